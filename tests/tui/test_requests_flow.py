"""Pilot tests of the Requests screen: import (good and bad), the new-request form, deny,
extend; every decision stored as an event with the operator's name."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from relearn_tui.store.models import Event, Request
from relearn_tui.tui.screens.detail import RequestDetailScreen
from relearn_tui.tui.screens.modals import ErrorScreen, ExtendScreen
from tests.tui.conftest import SAMPLE, SIZE, settle

pytestmark = pytest.mark.anyio


def _requests(ctx) -> dict[str, Request]:
    with ctx.store.session() as s:
        return {r.id: r for r in s.exec(select(Request)).all()}


def _events(ctx, request_id: str) -> list[Event]:
    with ctx.store.session() as s:
        return list(s.exec(select(Event).where(Event.request_id == request_id)
                           .order_by(Event.id)).all())


async def _type(pilot, text: str) -> None:
    await pilot.press(*[c if c != " " else "space" for c in text])


async def _palette(pilot, text: str) -> None:
    """Open the command palette, type ``text`` and run the first hit."""
    await pilot.press("ctrl+p")
    await pilot.pause()
    await _type(pilot, text)
    await pilot.pause(0.5)
    await pilot.press("enter")


async def _import(pilot, path: Path) -> None:
    await pilot.press("i")
    await pilot.pause()
    pilot.app.screen.query_one("#path").value = str(path)
    await pilot.press("enter", "enter")  # path, then the (empty) subject field submits
    await settle(pilot)


async def test_bad_import_shows_one_error_and_stores_nothing(ctx, app_factory, tmp_path):
    folder = tmp_path / "incoming"
    folder.mkdir()
    (folder / "a-good.json").write_text((SAMPLE / "DSR-2026-0042.json").read_text())
    (folder / "b-bad.json").write_text('{"subject": {"name": "Ada"}, "facts": [}')
    app = app_factory(ctx)
    async with app.run_test(size=SIZE) as pilot:
        await _import(pilot, folder)
        assert isinstance(app.screen, ErrorScreen)
        message = str(app.screen.query_one("#error-message").render())
        assert "b-bad.json" in message and "invalid JSON" in message
        assert "Traceback" not in message
        await pilot.press("enter")  # closes the dialog; the app keeps running
        assert not isinstance(app.screen, ErrorScreen)
        assert app.is_running
        # the folder is imported whole or not at all: the good file was not stored either
        assert _requests(ctx) == {}
        await _import(pilot, tmp_path / "missing")
        assert isinstance(app.screen, ErrorScreen)
        assert "no such file or folder" in str(app.screen.query_one("#error-message").render())


async def test_import_then_open_detail_masks_private_values(ctx, app_factory):
    app = app_factory(ctx)
    async with app.run_test(size=SIZE) as pilot:
        await _import(pilot, SAMPLE / "DSR-2026-0042.json")
        assert set(_requests(ctx)) == {"DSR-2026-0042"}
        table = app.screen.query_one("#requests-table")
        assert table.row_count == 1
        await pilot.press("enter")
        assert isinstance(app.screen, RequestDetailScreen)
        facts = app.screen.query_one("#facts-table")
        cells = [str(c) for row in range(facts.row_count) for c in facts.get_row_at(row)]
        assert not any("Amara" in c or "example.org" in c for c in cells)
        await pilot.press("v")
        cells = [str(c) for row in range(facts.row_count) for c in facts.get_row_at(row)]
        assert any("Amara Okafor" in c for c in cells)
        await pilot.press("escape")
        assert not isinstance(app.screen, RequestDetailScreen)


async def test_new_request_form_validates_then_stores(ctx, app_factory):
    app = app_factory(ctx)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        await pilot.pause()
        await _type(pilot, "Lena Fictive")
        await pilot.press("ctrl+s")  # no fact yet: the form says so and stays open
        error = str(app.screen.query_one("#form-error").render())
        assert "facts" in error and "nothing to forget" in error
        app.screen.query_one(".fact-q").value = "What is Lena Fictive's email?"
        app.screen.query_one(".fact-a").value = "Lena Fictive's email is lena@example.test."
        await pilot.press("ctrl+n")  # a second, empty row is ignored
        await pilot.press("ctrl+s")
        await pilot.pause()
        stored = _requests(ctx)
        assert len(stored) == 1
        (rid, req), = stored.items()
        assert req.subject_name == "Lena Fictive" and req.state == "submitted"
        assert _events(ctx, rid)[0].actor == "alice"


async def test_deny_needs_a_reason_and_is_logged(ctx, app_factory):
    app = app_factory(ctx)
    async with app.run_test(size=SIZE) as pilot:
        await _import(pilot, SAMPLE / "DSR-2026-0042.json")
        await pilot.press("d")
        await pilot.pause()
        await pilot.press("enter")  # empty reason refused
        assert "required" in str(app.screen.query_one("#form-error").render())
        await _type(pilot, "identity not verified")
        await pilot.press("enter")
        await pilot.pause()
        assert _requests(ctx)["DSR-2026-0042"].state == "denied"
        last = _events(ctx, "DSR-2026-0042")[-1]
        assert (last.actor, last.to_state, last.detail["reason"]) == (
            "alice", "denied", "identity not verified")


async def test_extend_beyond_the_limit_keeps_the_form_and_what_was_typed(ctx, app_factory):
    app = app_factory(ctx)
    async with app.run_test(size=SIZE) as pilot:
        await _import(pilot, SAMPLE / "DSR-2026-0042.json")
        await pilot.press("e")
        await pilot.pause()
        app.screen.query_one("#months").value = "2"
        app.screen.query_one("#reason").value = "complex request"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert _requests(ctx)["DSR-2026-0042"].extension_months == 2
        assert _events(ctx, "DSR-2026-0042")[-1].action == "deadline_extended"
        await pilot.press("e")
        await pilot.pause()
        app.screen.query_one("#reason").value = "still complex"
        await pilot.press("ctrl+s")
        await pilot.pause()
        # the form stays open with the reason still typed and says why (issue 25, point 4)
        assert isinstance(app.screen, ExtendScreen)
        assert "at most 2" in str(app.screen.query_one("#form-error").render())
        assert app.screen.query_one("#reason").value == "still complex"
        assert _requests(ctx)["DSR-2026-0042"].extension_months == 2


async def test_search_and_state_filter(seeded_ctx, app_factory):
    app = app_factory(seeded_ctx)
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one("#requests-table")
        assert table.row_count == 5
        await pilot.press("slash")
        await _type(pilot, "0003")
        await pilot.pause()
        assert table.row_count == 1
        await pilot.press("escape")
        app.screen.query_one("#requests-search").value = ""
        await pilot.pause()
        await pilot.press("f", "f")  # all -> submitted -> augmented
        await pilot.pause()
        assert [table.get_row_at(i)[0] for i in range(table.row_count)] == ["DSR-T-0001"]



async def test_palette_jumps_to_a_requests_review(seeded_ctx, app_factory):
    from relearn_tui.tui.screens.review import ReviewScreen

    app = app_factory(seeded_ctx)
    async with app.run_test(size=SIZE) as pilot:
        await _palette(pilot, "review request dsr-t-0001")
        await pilot.pause()
        assert isinstance(app.screen, ReviewScreen)
        assert app.screen.request_id == "DSR-T-0001"
        # the cursor waits on the first variant still open
        assert app.screen.current().status == "pending"


async def test_search_by_the_subjects_name(seeded_ctx, app_factory):
    from relearn_tui.tui.masking import PrivateInput

    with seeded_ctx.store.session() as s:  # the stored name erased, the reference kept
        s.get(Request, "DSR-T-0002").subject_name = None
    app = app_factory(seeded_ctx)
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one("#requests-table")
        search = app.screen.query_one("#requests-search")
        assert isinstance(search, PrivateInput) and search.password  # masked: dots
        search.value = "quillfeather"  # a part of a stored name
        await pilot.pause()
        assert [table.get_row_at(i)[0] for i in range(table.row_count)] == ["DSR-T-0001"]
        search.value = "Tobias  Marchetti"  # the whole name, through the pseudonym key
        await pilot.pause()
        assert [table.get_row_at(i)[0] for i in range(table.row_count)] == ["DSR-T-0002"]
        search.value = "Tobias"  # a part of an erased name finds nothing
        await pilot.pause()
        assert table.row_count == 0


async def test_another_process_changes_show_without_a_key(seeded_ctx, app_factory):
    from relearn_tui import operations
    from tests.tui.conftest import make_ctx

    app = app_factory(seeded_ctx)
    async with app.run_test(size=SIZE) as pilot:
        table = app.screen.query_one("#requests-table")
        states = lambda: {table.get_row_at(i)[0]: str(table.get_row_at(i)[2])  # noqa: E731
                          for i in range(table.row_count)}
        assert states()["DSR-T-0002"] == "submitted"
        other = make_ctx(seeded_ctx.home)  # another process's own connection
        operations.deny(other.store, "DSR-T-0002", actor="bob", reason="identity not verified")
        await pilot.pause(app.POLL_S + 1)
        assert states()["DSR-T-0002"] == "denied"


async def test_palette_reaches_another_screens_action(seeded_ctx, app_factory):
    from relearn_tui.tui.screens.modals import PickScreen

    app = app_factory(seeded_ctx)
    async with app.run_test(size=SIZE) as pilot:
        await _palette(pilot, "choose the run to show")
        await settle(pilot)
        assert app.current_mode == "audit"  # switched there, then acted
        assert isinstance(app.screen, PickScreen)
        assert app.screen.title_text == "Audit of which run?"


async def test_bare_pairs_without_a_name_say_a_name_is_needed(ctx, app_factory, tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text('{"question": "What is Ann Example\'s email?", '
                    '"answer": "Ann Example\'s email is ann@example.test."}\n')
    app = app_factory(ctx)
    async with app.run_test(size=SIZE) as pilot:
        await _import(pilot, path)
        assert isinstance(app.screen, ErrorScreen)
        message = str(app.screen.query_one("#error-message").render())
        assert "needs the subject's name" in message and "unknown field" not in message
        await pilot.press("escape")
        await pilot.press("i")
        await pilot.pause()
        app.screen.query_one("#path").value = str(path)
        app.screen.query_one("#subject").value = "Ann Example"
        await pilot.press("ctrl+s")
        await settle(pilot)
        (req,) = _requests(ctx).values()
        assert req.subject_name == "Ann Example"


async def test_new_request_form_names_facts_as_labelled_and_takes_fast_typing(ctx, app_factory):
    app = app_factory(ctx)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        await pilot.pause()
        # typed straight on, Enter moving field to field, no pause in between
        await _type(pilot, "Lena Fictive")
        await pilot.press("enter", "enter", "enter")  # reference, ground, fact 1's question
        await _type(pilot, "What is Lena Fictive's email?")
        await pilot.press("enter")
        await _type(pilot, "Lena Fictive's email is lena@example.test.")
        await pilot.press("ctrl+n")
        await _type(pilot, "What is Lena Fictive's phone?")  # fact 2 without an answer
        await pilot.press("ctrl+s")
        await pilot.pause()
        form = app.screen
        assert form.query_one("#subject-name").value == "Lena Fictive"
        q1, q2 = (i.value for i in form.query(".fact-q"))
        a1, a2 = (i.value for i in form.query(".fact-a"))
        assert (q1, a1) == ("What is Lena Fictive's email?",
                            "Lena Fictive's email is lena@example.test.")
        assert (q2, a2) == ("What is Lena Fictive's phone?", "")
        error = str(form.query_one("#form-error").render())
        assert "Fact 2" in error and "facts[1]" not in error


async def test_palette_reaches_a_requests_detail_actions_from_another_screen(
        seeded_ctx, app_factory):
    """The request detail's actions are commands on each request, from any screen: the
    detail opens, then acts. Augment is offered only where the state allows it, and a closed
    request is only opened."""
    from textual.widgets import TabbedContent

    from relearn_tui.tui.commands import detail_commands

    app = app_factory(seeded_ctx)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")  # Runs: no request detail anywhere on the stack
        await settle(pilot)
        await _palette(pilot, "request dsr-t-0002: timeline")
        await settle(pilot)
        assert isinstance(app.screen, RequestDetailScreen)
        assert app.screen.request_id == "DSR-T-0002"
        assert app.screen.query_one("#detail-tabs", TabbedContent).active == "timeline"
    actions = lambda state: {b.action for b in detail_commands(state)}  # noqa: E731
    assert "augment" in actions("submitted") and "augment" not in actions("trained")
    assert {"tab('facts')", "tab('timeline')", "tab('metrics')"} <= actions("trained")
    assert not actions("verified") & {"back", "review", "full_text", "app.toggle_reveal"}
