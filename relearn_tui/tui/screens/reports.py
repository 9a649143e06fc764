"""Reports: export a request's or a run's compliance report in each format and show where
each file was written."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Label, Static

from relearn_tui.reports import REPORT_FORMATS
from relearn_tui.tui import data
from relearn_tui.tui.formatting import state_text
from relearn_tui.tui.screens.base import AppScreen
from relearn_tui.tui.widgets.tables import refill, selected_key


class ReportsScreen(AppScreen):
    SECTION = "reports"
    AUTO_FOCUS = "#report-targets"
    BINDINGS = [
        Binding("m", "export('md')", "Markdown", id="reports.md",
                tooltip="Export the selected request's or run's report as Markdown"),
        Binding("h", "export('html')", "HTML", id="reports.html",
                tooltip="Export it as self-contained HTML (with a chart)"),
        Binding("j", "export('json')", "JSON", id="reports.json",
                tooltip="Export it as JSON"),
        Binding("x", "export('all')", "All formats", id="reports.all",
                tooltip="Export it in all three formats"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.written: list[tuple[str, str, Path]] = []

    def compose_body(self) -> ComposeResult:
        yield Label("Requests and runs · m/h/j export one format, x all three",
                    classes="section-title")
        table: DataTable = DataTable(id="report-targets", cursor_type="row", zebra_stripes=True)
        table.add_column("kind", width=7)
        table.add_column("id", width=24)
        table.add_column("state", width=14)
        table.add_column("about", width=26)
        yield table
        yield Label("Written", classes="section-title")
        yield Static("Nothing exported in this session yet.", id="report-written",
                     markup=False)

    def focus_main(self) -> None:
        self.query_one("#report-targets", DataTable).focus()

    def reload(self) -> None:
        store = self.services.ctx.store
        rows = [(f"request:{r.request_id}", ("request", r.request_id, state_text(r.state),
                                             f"{r.subject}, {r.facts} fact(s)"))
                for r in data.requests(store, self.services.today())]
        rows += [(f"run:{r.run_id}", ("run", r.run_id, state_text(r.state),
                                      f"{r.method}, {len(r.request_ids)} request(s)"))
                 for r in data.runs(store)]
        refill(self.query_one("#report-targets", DataTable), rows)

    def action_export(self, fmt: str) -> None:
        key = selected_key(self.query_one("#report-targets", DataTable))
        if key is None:
            self.notify("Nothing to export yet.", severity="warning")
            return
        kind, ident = key.split(":", 1)
        formats = REPORT_FORMATS if fmt == "all" else (fmt,)
        ctx = self.services.ctx

        def work() -> list[tuple[str, Path]]:
            from relearn_tui.reports import export_request_report, export_run_report

            export = export_request_report if kind == "request" else export_run_report
            return [(f, Path(export(ctx, ident, f))) for f in formats]

        def done(paths: list[tuple[str, Path]]) -> None:
            for f, path in paths:
                self.written.insert(0, (ident, f, path))
            self.show_written()
            self.services.data_changed()  # an export is an event in the request's timeline
            self.notify(f"{ident}: {len(paths)} report file(s) written.", title="Reports")

        self.services.run_job(work, name="export", done=done, label="exporting…")

    def show_written(self) -> None:
        lines = [f"{ident} {fmt:<4} {path}" for ident, fmt, path in self.written[:20]]
        self.query_one("#report-written", Static).update("\n".join(lines))
