"""Pilot tests of the guards on actions that undo work or are final (issue 25, point 4):
augmenting reviewed work again asks first, a review decision can be undone, an extension
after the deadline is refused unless overridden (with its reason, in the event), cancelling
a request needs a reason and Esc leaves it as it was, and the edit dialog does not open on
masked text."""

from __future__ import annotations

import pytest
from sqlmodel import select
from textual.widgets import Static

from relearn_tui.store.models import Event, Request, Variant
from relearn_tui.tui.screens.modals import (
    ConfirmScreen,
    EditVariantScreen,
    ExtendScreen,
    ReasonScreen,
)
from relearn_tui.tui.screens.review import ReviewScreen
from tests.tui.conftest import SIZE, screen_text, settle

pytestmark = pytest.mark.anyio


def _request(ctx, rid: str) -> Request:
    with ctx.store.session() as s:
        return s.get(Request, rid)


def _events(ctx, rid: str) -> list[Event]:
    with ctx.store.session() as s:
        return list(s.exec(select(Event).where(Event.request_id == rid).order_by(Event.id)))


def _variant(ctx, vid: int) -> Variant:
    with ctx.store.session() as s:
        return s.get(Variant, vid)


async def _select(pilot, rid: str) -> None:
    from relearn_tui.tui.widgets.tables import move_to

    move_to(pilot.app.screen.query_one("#requests-table"), rid)
    await pilot.pause()


async def test_augmenting_reviewed_work_again_asks_first(seeded_ctx, app_factory):
    app = app_factory(seeded_ctx)
    async with app.run_test(size=SIZE) as pilot:
        await _select(pilot, "DSR-T-0001")  # augmented, with decisions taken
        before = len(_events(seeded_ctx, "DSR-T-0001"))
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert "replaces them" in str(app.screen.message)
        await pilot.press("n")
        await pilot.pause()
        assert not app.workers  # nothing started
        assert len(_events(seeded_ctx, "DSR-T-0001")) == before
        assert _request(seeded_ctx, "DSR-T-0001").state == "augmented"
        # a verified request is not augmentable at all: a warning, no dialog
        await _select(pilot, "DSR-T-0003")
        await pilot.press("a")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)


async def test_augmenting_a_human_reviewed_request_asks_first(seeded_ctx, app_factory,
                                                              monkeypatch):
    from relearn_tui import workflow

    rid = "DSR-T-0001"
    with seeded_ctx.store.session() as s:  # every fact has an approved variant by now
        workflow.transition(s, rid, workflow.HUMAN_REVIEWED, actor="alice")
    app = app_factory(seeded_ctx)
    started: list[list[str]] = []  # the guard is under test here, not augmentation itself
    monkeypatch.setattr(app, "augment", lambda ids: started.append(list(ids)))
    async with app.run_test(size=SIZE) as pilot:
        await _select(pilot, rid)
        before = len(_events(seeded_ctx, rid))
        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        message = " ".join(str(app.screen.message).split())
        assert f"{rid} is human_reviewed" in message and "generated and reviewed" in message
        assert "goes back to augmented" in message
        await pilot.press("n")
        await settle(pilot)
        assert started == [] and not app.workers
        assert _request(seeded_ctx, rid).state == "human_reviewed"
        assert len(_events(seeded_ctx, rid)) == before
        # the request detail's a asks the same, and only yes starts it
        await pilot.press("enter", "a")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(pilot)
        assert started == [[rid]]


async def _type(pilot, text: str) -> None:
    await pilot.press(*[c if c != " " else "space" for c in text])


async def test_cancelling_a_request_is_final_and_needs_a_reason(seeded_ctx, app_factory):
    rid = "DSR-T-0002"  # submitted
    app = app_factory(seeded_ctx)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await _select(pilot, rid)
        before = len(_events(seeded_ctx, rid))
        await pilot.press("c")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, ReasonScreen)
        said = " ".join(str(w.render()) for w in form.query(Static))
        assert f"Cancel {rid}" in said and "This is final." in said
        assert f"Cancel {rid}" in screen_text(app)
        await pilot.press("enter")  # no reason: refused, still open, nothing recorded
        await pilot.pause()
        assert app.screen is form
        assert "A reason is required" in str(form.query_one("#form-error").render())
        assert _request(seeded_ctx, rid).state == "submitted"
        await _type(pilot, "the subject withdrew it by phone")
        await pilot.press("enter")
        await settle(pilot)
        assert not isinstance(app.screen, ReasonScreen)
        assert _request(seeded_ctx, rid).state == "canceled"
        events = _events(seeded_ctx, rid)
        assert len(events) == before + 1
        ev = events[-1]
        assert (ev.actor, ev.from_state, ev.to_state, ev.detail["reason"]) == (
            "alice", "submitted", "canceled", "the subject withdrew it by phone")
        assert f"{rid}: canceled" in screen_text(app)
        # final: a canceled request cannot be cancelled or denied again; said at once, no
        # dialog to type a reason into, nothing more recorded
        for key in ("c", "d"):
            await pilot.press(key)
            await settle(pilot)
            assert not isinstance(app.screen, ReasonScreen)
            said = [n.message for n in app._notifications]
            assert f"{rid} is canceled: that is final, nothing more is decided on it." in said
        assert _request(seeded_ctx, rid).state == "canceled"
        assert len(_events(seeded_ctx, rid)) == before + 1


async def test_escape_on_deny_or_cancel_leaves_the_request_as_it_was(seeded_ctx, app_factory):
    rid = "DSR-T-0002"
    app = app_factory(seeded_ctx)
    async with app.run_test(size=SIZE) as pilot:
        await _select(pilot, rid)
        before = len(_events(seeded_ctx, rid))
        for key in ("d", "c"):
            await pilot.press(key)
            await pilot.pause()
            assert isinstance(app.screen, ReasonScreen), key
            await _type(pilot, "typed then abandoned")  # a reason, but no Enter
            await pilot.press("escape")
            await settle(pilot)
            assert not isinstance(app.screen, ReasonScreen), key
            assert _request(seeded_ctx, rid).state == "submitted", key
            assert len(_events(seeded_ctx, rid)) == before, key


async def test_undo_the_last_review_decision(seeded_ctx, app_factory):
    app = app_factory(seeded_ctx)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ReviewScreen)
        await pilot.press("u")  # nothing decided yet here: nothing undone
        await pilot.pause()
        first = screen.current().variant_id
        await pilot.press("x")
        await pilot.pause()
        assert _variant(seeded_ctx, first).status == "rejected"
        await pilot.press("u")
        await pilot.pause()
        assert _variant(seeded_ctx, first).status == "pending"
        assert screen.current().variant_id == first  # the cursor goes back to it
        ev = _events(seeded_ctx, "DSR-T-0001")[-1]
        assert (ev.action, ev.actor, ev.detail["was"]) == ("variant_undone", "alice",
                                                           "rejected")
        # a bulk approval that completed the review is undone whole, and the request goes
        # back to augmented
        await pilot.press("n")  # the flagged one of fact 1 stays open; fact 2 next
        await pilot.press("n")
        await pilot.pause()
        assert screen.current().fact_position == 1
        await pilot.press("A")
        await pilot.pause()
        assert _request(seeded_ctx, "DSR-T-0001").state == "human_reviewed"
        await pilot.press("u")
        await pilot.pause()
        assert _request(seeded_ctx, "DSR-T-0001").state == "augmented"
        last = _events(seeded_ctx, "DSR-T-0001")[-1]
        assert (last.from_state, last.to_state, last.actor) == (
            "human_reviewed", "augmented", "alice")


async def test_extension_after_the_deadline_needs_an_override(seeded_ctx, app_factory):
    rid = "DSR-T-0001"  # received 2026-10-20: due 2026-11-20, ten days before "today"
    app = app_factory(seeded_ctx)
    async with app.run_test(size=SIZE) as pilot:
        await _select(pilot, rid)
        await pilot.press("e")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, ExtendScreen) and form.late
        form.query_one("#reason").value = "subject sent more documents"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is form  # refused: still open, the reason still typed
        assert "Refused" in str(form.query_one("#form-error").render())
        assert form.query_one("#reason").value == "subject sent more documents"
        assert _request(seeded_ctx, rid).extension_months == 0
        form.query_one("#override").value = "late"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert not isinstance(app.screen, ExtendScreen)
        assert _request(seeded_ctx, rid).extension_months == 1
        ev = _events(seeded_ctx, rid)[-1]
        assert (ev.action, ev.actor, ev.detail["late_override"], ev.detail["reason"]) == (
            "deadline_extended", "alice", True, "subject sent more documents")


def test_extension_after_the_deadline_is_refused_headless_too(seeded_ctx):
    from datetime import date

    from relearn_tui import operations, workflow

    with pytest.raises(workflow.WorkflowError, match="deadline passed 10 day"):
        operations.extend_deadline(seeded_ctx.store, "DSR-T-0001", months=1, actor="alice",
                                   reason="late", today=date(2026, 11, 30))
    assert _request(seeded_ctx, "DSR-T-0001").extension_months == 0


async def test_edit_dialog_does_not_open_on_masked_text(seeded_ctx, app_factory):
    app = app_factory(seeded_ctx)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await pilot.pause()
        await pilot.press("e")
        await pilot.pause()
        assert not isinstance(app.screen, EditVariantScreen)
        await pilot.press("v", "e")
        await pilot.pause()
        assert isinstance(app.screen, EditVariantScreen)
