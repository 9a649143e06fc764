"""The one masking rule, checked where it matters: on the rendered screen. With the header
showing ``masked``, every screen and dialog is walked on fictional requests whose private
values are known, and none of them (nor a subject's name) may appear anywhere in what the
terminal shows: tables, panes, dialogs, the Probe console, notifications, status lines.
The same walk revealed shows them, so the check can fail."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from relearn_tui.tui.screens.modals import (
    ConfirmScreen,
    ErrorScreen,
    ExtendScreen,
    FullTextScreen,
    ImportScreen,
    MarkValueScreen,
    PickScreen,
    ReasonScreen,
)
from relearn_tui.tui.screens.new_request import NewRequestScreen
from tests.tui.conftest import PEOPLE, SIZE, VARIANTS, screen_text, settle

pytestmark = pytest.mark.anyio


def _secrets() -> set[str]:
    """Every private value, every subject's name and surname, and distinctive words of the
    variants' texts (a table cell may cut a value, but not these words)."""
    out: set[str] = set()
    for name, _, facts in PEOPLE.values():
        out.add(name)
        out.update(name.split())
        for _, _, values in facts:
            out.update(v for _, v in values)
    for items in VARIANTS.values():
        for _, q, a, *_ in items:
            out.update(w.strip("?.,;") for w in (q + " " + a).split() if len(w) > 9)
    return {s for s in out if len(s) >= 4}


SECRETS = _secrets()
PROBE = ("What is Mirela Tsang's account number?", "Mirela Tsang holds account LO-99120.",
         "Mirela Tsang's account is LO-99120, I think.")


def _leaks(app) -> list[str]:
    text = screen_text(app)
    flat = " ".join(text.split())
    return sorted(s for s in SECRETS if s in text or s in flat)


class Walk:
    """Presses keys and checks the screen after each step."""

    def __init__(self, pilot, reveal: bool) -> None:
        self.pilot, self.reveal = pilot, reveal
        self.seen: dict[str, list[str]] = {}

    async def step(self, label: str, *keys: str, dialog: type | None = None) -> None:
        if keys:
            await self.pilot.press(*keys)
        await settle(self.pilot)
        if dialog is not None:
            assert isinstance(self.pilot.app.screen, dialog), (label, self.pilot.app.screen)
            # a dialog pushed by a worker paints on a later refresh: on a loaded machine
            # settle() could return before it, and the text read was the screen below
            await asyncio.wait_for(self.pilot.app.screen.wait_for_refresh(), timeout=30)
            await self.pilot.pause()
        self.seen[label] = _leaks(self.pilot.app)


def _bad_file(folder: Path) -> Path:
    """A request file refused on import, with private values in the refused field and beside
    it: the error dialog must name the file and field, not show what they hold."""
    path = folder / "refused.json"
    path.write_text(json.dumps({
        "request_id": "DSR-T-0009", "received_at": "4 May 1988",
        "subject": {"name": "Ines Halvorsen"},
        "facts": [{"question": "When was Ines Halvorsen born?",
                   "answer": "Ines Halvorsen was born on 4 May 1988.",
                   "note": "Glimmerbank"}]}))
    return path


async def _walk(app, pilot, reveal: bool, bad_file: Path) -> dict[str, list[str]]:
    from relearn_tui.tui.widgets.tables import move_to

    w = Walk(pilot, reveal)
    if reveal:
        await pilot.press("v")
    await w.step("requests")
    await w.step("search", "slash", *"0001", "escape")
    app.screen.query_one("#requests-search").value = ""
    await w.step("detail facts", "enter")
    await w.step("fact full text", "o", dialog=FullTextScreen)
    await w.step("timeline", "escape", "t")
    await w.step("metrics", "m")
    await w.step("back", "escape")
    await w.step("re-augment confirm", "a", dialog=ConfirmScreen)
    await w.step("import dialog", "n", "i", dialog=ImportScreen)
    app.screen.query_one("#subject").value = "Tobias Marchetti"  # a name typed there
    await w.step("import dialog, name typed")
    await w.step("new request form", "escape", "n", dialog=NewRequestScreen)
    app.screen.query_one("#subject-name").value = "Nora Quillfeather"
    app.screen.query_one(".fact-a").value = "Her email is nora.q@example.test."
    await w.step("new request form, typed")
    await w.step("extend dialog", "escape", "e", dialog=ExtendScreen)
    await w.step("deny dialog", "escape", "d", dialog=ReasonScreen)
    await w.step("review", "escape", "2")
    await w.step("review flagged", "n")
    await w.step("variant full text", "o", dialog=FullTextScreen)
    await w.step("flagged approve confirm", "escape", "a", dialog=ConfirmScreen)
    await w.step("edit (refused masked or dialog)", "n", "e")
    await w.step("mark value dialog", *(["escape"] if reveal else []), "m",
                 dialog=MarkValueScreen)
    app.screen.query_one("#value").value = "12 Lantern Row, Fenwick"  # not in this answer
    await w.step("mark value dialog, typed")
    await w.step("mark value refused", "ctrl+s", dialog=MarkValueScreen)
    refusal = str(app.screen.query_one("#form-error").render())  # the form kept open
    assert "does not contain" in refusal and not [x for x in SECRETS if x in refusal]
    await w.step("pick request", "escape", "r", dialog=PickScreen)
    await w.step("runs", "escape", "3")
    await w.step("audit", "4")
    move_to(app.screen.query_one("#audit-table"), "DSR-T-0005")
    await w.step("audit failed probes")
    app.screen.query_one("#probes-table").focus()
    await w.step("probe full text", "o", dialog=FullTextScreen)
    await w.step("pick run", "escape", "r", dialog=PickScreen)
    await w.step("probe console", "escape", "5")
    await pilot.press("slash", *[c if c != " " else "space" for c in PROBE[0][:20]])
    app.screen.show_answers(*PROBE)
    await w.step("probe answers", "escape")
    await w.step("probe full text dialog", "o", dialog=FullTextScreen)
    await w.step("reports", "escape", "6")
    await w.step("help", "question_mark")
    await w.step("palette", "escape", "ctrl+p")
    await w.step("palette search", *"review")
    await w.step("palette, a request's detail commands", *"backspace" * 6, *"timeline")
    await w.step("import refused", "escape", "1", "i", dialog=ImportScreen)
    app.screen.query_one("#path").value = str(bad_file)
    await w.step("error dialog", "enter", "enter", dialog=ErrorScreen)
    assert "refused.json" in screen_text(app)
    await pilot.press("escape")
    app.notify(f"{PROBE[0]}", title="a test")  # a toast is on screen too
    await w.step("notification")
    return w.seen


async def test_no_private_value_on_any_screen_or_dialog_while_masked(seeded_ctx, app_factory,
                                                                    tmp_path):
    app = app_factory(seeded_ctx)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        seen = await _walk(app, pilot, reveal=False, bad_file=_bad_file(tmp_path))
    # the notification was sent by the test itself with a question in it: it shows (toasts
    # are plain text); every screen and dialog of the application shows nothing
    leaks = {k: v for k, v in seen.items() if v and k != "notification"}
    assert leaks == {}
    assert seen["notification"], "the check sees toasts"


async def test_the_same_walk_revealed_shows_the_values(seeded_ctx, app_factory, tmp_path):
    app = app_factory(seeded_ctx)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        seen = await _walk(app, pilot, reveal=True, bad_file=_bad_file(tmp_path))
    for step in ("detail facts", "fact full text", "review flagged", "variant full text",
                 "audit failed probes", "probe full text", "probe answers",
                 "import dialog, name typed", "new request form, typed",
                 "mark value dialog, typed"):
        assert seen[step], f"{step}: revealed, yet no private value on screen"


async def test_the_reveal_key_repaints_the_screen_shown(seeded_ctx, app_factory):
    """Flipping the reveal key on a screen already showing masked rows redraws them: the
    values appear at once and go again at the second press, without leaving the screen."""
    from relearn_tui.tui.widgets.tables import move_to

    app = app_factory(seeded_ctx)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)

        async def flip(label: str) -> None:
            assert not _leaks(app), f"{label}: a value shown before reveal"
            await pilot.press("v")
            await settle(pilot)
            assert _leaks(app), f"{label}: revealed, yet no private value on screen"
            await pilot.press("v")
            await settle(pilot)
            assert not _leaks(app), f"{label}: masked again, yet a value on screen"

        await pilot.press("enter")
        await settle(pilot)
        await flip("request detail")
        await pilot.press("escape", "2", "n")
        await settle(pilot)
        table = app.screen.query_one("#variants-table")

        def cells() -> list[str]:
            return [str(c) for key in table.rows for c in table.get_row(key)]

        masked = cells()
        await flip("review")
        await pilot.press("v")
        await settle(pilot)
        # the table's own cells, not only the detail pane (which repaints by itself)
        assert cells() != masked, "review: the variants table kept its masked cells"
        await pilot.press("v")
        await settle(pilot)
        await pilot.press("4")
        await settle(pilot)
        move_to(app.screen.query_one("#audit-table"), "DSR-T-0005")
        await settle(pilot)
        await flip("audit")
