"""Pilot tests of the Review screen on fixed fictional variants: decisions are events with
the operator's name, a flagged variant needs an explicit override, an edit is verified again,
and the request reaches human_reviewed once every fact has an approved variant."""

from __future__ import annotations

import pytest
from sqlmodel import select

from relearn_tui.store.models import Event, Request, Variant
from relearn_tui.tui.screens.modals import ConfirmScreen, EditVariantScreen
from relearn_tui.tui.screens.review import ReviewScreen
from tests.tui.conftest import SIZE, settle

pytestmark = pytest.mark.anyio

RID = "DSR-T-0001"


def _variants(ctx) -> dict[int, Variant]:
    with ctx.store.session() as s:
        return {v.id: v for v in s.exec(select(Variant).where(Variant.request_id == RID))}


def _events(ctx) -> list[Event]:
    with ctx.store.session() as s:
        return list(s.exec(select(Event).where(Event.request_id == RID).order_by(Event.id)))


def _state(ctx) -> str:
    with ctx.store.session() as s:
        return s.get(Request, RID).state


def _current(app) -> int:
    screen = app.screen
    assert isinstance(screen, ReviewScreen)
    return screen.current().variant_id


async def test_flagged_needs_override_and_fact_bulk_completes_review(seeded_ctx, app_factory):
    app = app_factory(seeded_ctx)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await pilot.pause()
        vs = _variants(seeded_ctx)
        flagged = next(v.id for v in vs.values() if not v.verified_ok)
        # the cursor starts on the first open variant; n walks the open ones
        first_open = _current(app)
        assert vs[first_open].status == "pending"
        await pilot.press("n")
        assert _current(app) == flagged
        await pilot.press("a")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")  # no: nothing recorded
        await pilot.pause()
        assert _variants(seeded_ctx)[flagged].status == "pending"
        await pilot.press("a")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        ev = _events(seeded_ctx)[-1]
        assert (ev.action, ev.actor, ev.detail.get("override")) == (
            "variant_approved", "alice", True)
        assert _state(seeded_ctx) == "augmented"  # fact 2 has no approved variant yet
        # after a decision the cursor moves on to the next open variant (fact 2)
        assert _variants(seeded_ctx)[_current(app)].status == "pending"
        await pilot.press("A")  # approve all unflagged of this fact
        await pilot.pause()
        assert _state(seeded_ctx) == "human_reviewed"
        last = _events(seeded_ctx)[-1]
        assert (last.to_state, last.actor) == ("human_reviewed", "alice")
        bulk = [e for e in _events(seeded_ctx) if e.detail.get("bulk")]
        assert len(bulk) == 2 and {e.actor for e in bulk} == {"alice"}


async def test_reject_then_edit_is_verified_again(seeded_ctx, app_factory):
    app = app_factory(seeded_ctx)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await pilot.pause()
        await pilot.press("n")
        flagged = _current(app)
        await pilot.press("v", "e")  # the dialog shows the text: it opens once revealed
        await pilot.pause()
        assert isinstance(app.screen, EditVariantScreen)
        app.screen.query_one("#answer").value = ("Nora keeps her email address private; "
                                                 "please use official channels.")
        await pilot.press("ctrl+s")
        await settle(pilot)
        edited = _variants(seeded_ctx)[flagged]
        assert edited.edited and edited.verified_ok and edited.status == "pending"
        ev = _events(seeded_ctx)[-1]
        assert (ev.action, ev.actor, ev.detail["verified"]) == ("variant_edited", "alice", True)
        # the event never holds the text the reviewer typed
        assert "official channels" not in str(ev.detail)
        await pilot.press("x")
        await pilot.pause()
        assert _variants(seeded_ctx)[flagged].status == "rejected"
        assert _events(seeded_ctx)[-1].action == "variant_rejected"


async def test_typing_in_the_edit_dialog_edits_the_text_instead_of_replacing_it(
        seeded_ctx, app_factory):
    app = app_factory(seeded_ctx)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await pilot.pause()
        current = _current(app)
        before = _variants(seeded_ctx)[current].answer
        await pilot.press("v", "e")
        await pilot.pause()
        await pilot.press("enter")  # question -> answer field
        await pilot.pause()
        await pilot.press(*" Thanks.")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert _variants(seeded_ctx)[current].answer == before + " Thanks."


async def test_mark_a_missed_value_and_no_value_guard(seeded_ctx, app_factory):
    """m marks a value the detector missed (a wrong one keeps the dialog open with why); M on
    a fact that has values is refused in the dialog. Events name the fact and category only."""
    from relearn_tui.tui.screens.modals import MarkValueScreen, ReasonScreen
    from tests.tui.conftest import screen_text

    with seeded_ctx.store.session() as s:  # a variant of fact 2 repeats the town
        v = s.exec(select(Variant).where(Variant.request_id == RID,
                                         Variant.kind == "simple",
                                         Variant.status == "pending")).one()
        v.answer = "Nora keeps her home in Fenwick to herself."
        s.add(v)
        town_variant = v.id
    app = app_factory(seeded_ctx)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ReviewScreen)
        while screen.current().fact_position != 1:
            await pilot.press("down")
        assert "values: street address" in screen_text(app)
        await pilot.press("m")
        await pilot.pause()
        assert isinstance(app.screen, MarkValueScreen)
        await pilot.press(*"Gloamingham", "enter", "enter")
        await pilot.pause()
        assert isinstance(app.screen, MarkValueScreen)  # kept open, with what was typed
        assert "does not contain the value" in screen_text(app)
        app.screen.query_one("#value").value = "Fenwick"
        app.screen.query_one("#category").value = "location"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, ReviewScreen), screen_text(app)
        marked = [e for e in _events(seeded_ctx) if e.action == "value_marked"]
        assert [(e.actor, e.detail["fact"], e.detail["category"]) for e in marked] == [
            ("alice", 2, "location")]
        assert marked[0].detail["variants_flagged"] == 1
        assert not _variants(seeded_ctx)[town_variant].verified_ok
        assert "Fenwick" not in str([e.detail for e in _events(seeded_ctx)])
        await pilot.press("M")
        await pilot.pause()
        assert isinstance(app.screen, ReasonScreen)
        await pilot.press(*"not private", "enter")
        await pilot.pause()
        assert isinstance(app.screen, ReasonScreen)
        assert "holds 2 private value(s)" in screen_text(app)
        await pilot.press("escape")


async def test_a_template_fallback_is_marked_for_the_reviewer(seeded_ctx, app_factory):
    """A variant the offline templates wrote because the LLM's reply was unusable says so."""
    from tests.tui.conftest import screen_text

    with seeded_ctx.store.session() as s:
        v = s.exec(select(Variant).where(Variant.request_id == RID,
                                         Variant.kind == "contextual")).one()
        v.backend = "openai+offline"
        s.add(v)
        fallback = v.id
    app = app_factory(seeded_ctx)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await pilot.pause()
        assert _current(app) == fallback
        text = screen_text(app)
        assert "written by openai+offline" in text and "reply for this fact was" in text
        await pilot.press("n")
        await pilot.pause()
        assert "reply for this fact was" not in screen_text(app)
