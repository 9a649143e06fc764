"""Pilot test of the Reports screen: export a request's and a run's report in each format and
show where each file was written."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from relearn_tui.store.models import Event
from relearn_tui.tui.screens.reports import ReportsScreen
from tests.tui.conftest import RUN_ID, SIZE, settle

pytestmark = pytest.mark.anyio


async def test_export_request_and_run_reports(seeded_ctx, app_factory):
    app = app_factory(seeded_ctx)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("6")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ReportsScreen)
        table = screen.query_one("#report-targets")
        keys = [table.coordinate_to_cell_key((i, 0)).row_key.value
                for i in range(table.row_count)]
        table.move_cursor(row=keys.index("request:DSR-T-0003"))
        await pilot.press("x")  # all three formats
        await settle(pilot)
        table.move_cursor(row=keys.index(f"run:{RUN_ID}"))
        await pilot.press("h")
        await settle(pilot)
        written = screen.written
        assert [(ident, fmt) for ident, fmt, _ in written] == [
            (RUN_ID, "html"), ("DSR-T-0003", "json"), ("DSR-T-0003", "html"),
            ("DSR-T-0003", "md")]
        for _, _, path in written:
            assert Path(path).is_file() and Path(path).stat().st_size > 0
        shown = str(screen.query_one("#report-written").render())
        assert all(str(path) in shown for _, _, path in written)
    with seeded_ctx.store.session() as s:
        events = s.exec(select(Event).where(Event.request_id == "DSR-T-0003",
                                            Event.action == "report_exported")).all()
    assert events and all(e.actor == "alice" for e in events)
