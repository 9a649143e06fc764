"""The top line keeps saying whether private values are shown, however long the activity."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual.reactive import reactive

from relearn_tui.tui.widgets.navbar import NavBar

pytestmark = pytest.mark.anyio


class _Bar(App):
    status_tick = reactive(0)
    reveal = reactive(False)

    def __init__(self, activity: str) -> None:
        super().__init__()
        self.activity = activity

    def activity_line(self) -> str:
        return self.activity

    def compose(self) -> ComposeResult:
        yield NavBar("runs")


async def _line(activity: str, reveal: bool) -> str:
    app = _Bar(activity)
    async with app.run_test(size=(80, 3)) as pilot:
        app.reveal = reveal
        await pilot.pause()
        bar = app.query_one(NavBar)
        return "".join(seg.text for seg in bar.render_line(0))


async def test_a_long_activity_gives_way_to_the_mask_state():
    long = "run completed · augment 5/6 · export DSR-2026-0041 · audit after 40%"
    line = await _line(long, reveal=True)
    assert line.rstrip().endswith("REVEALED")
    assert "6 Reports" in line and "…" in line
    assert (await _line(long, reveal=False)).rstrip().endswith("masked")


async def test_a_short_activity_is_shown_whole():
    line = await _line("train 33%", reveal=False)
    assert "train 33%" in line and line.rstrip().endswith("masked")
