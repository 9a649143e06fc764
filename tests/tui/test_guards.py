"""Pilot tests of the guards on actions that undo work or are final (issue 25, point 4):
augmenting reviewed work again asks first, a review decision can be undone, an extension
after the deadline is refused unless overridden (with its reason, in the event), and the
edit dialog does not open on masked text."""

from __future__ import annotations

import pytest
from sqlmodel import select

from relearn_tui.store.models import Event, Request, Variant
from relearn_tui.tui.screens.modals import ConfirmScreen, EditVariantScreen, ExtendScreen
from relearn_tui.tui.screens.review import ReviewScreen
from tests.tui.conftest import SIZE

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
