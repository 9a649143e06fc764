"""Audit: KFR / KRR / LS and leak figures before and after, per request of a run, pass or
fail against the thresholds, and the probe answers that failed."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Label, Static

from relearn_tui.reports.figures import family_rows, fmt, headline_rows
from relearn_tui.runs import COMPLETED
from relearn_tui.tui import data
from relearn_tui.tui.formatting import figure, pass_text, short, state_text, thresholds_line
from relearn_tui.tui.masking import Private, shown
from relearn_tui.tui.messages import OpenRequest
from relearn_tui.tui.screens.base import AppScreen, guarded
from relearn_tui.tui.screens.modals import FullTextScreen, PickScreen
from relearn_tui.tui.widgets.tables import refill, selected_key

# (figure key, column label): the columns that fit 80 cells; the rest go to the detail line
COLUMNS = (("kfr_heldout", "KFR"), ("krr", "KRR"), ("ls", "LS"), ("leak_rate", "leak"))
RUN_ROW = "(run)"


def before_after(before: dict[str, Any], after: dict[str, Any], key: str) -> str:
    b, a = before.get(key), after.get(key)
    if b is None and a is None:
        return "-"
    return f"{figure(b)}→{figure(a)}"


def probe_field(record: dict[str, Any], *names: str) -> str:
    for name in names:
        value = record.get(name)
        if value not in (None, ""):
            return str(value)
    return ""


def why(record: dict[str, Any]) -> str:
    return probe_field(record, "why", "reason") or "hidden"



def summary_line(before: dict[str, Any], after: data.AuditView) -> Text:
    """Two lines under the table for the selected row: the worst probe family's figures and
    the reasons it failed, cut to fit; f opens them whole (figures_text)."""
    fig = after.figures
    text = Text(style="dim")
    family = fig.get("kfr_worst_family") or fig.get("leak_rate_worst_family")
    if family:
        fam_b = (before.get("families") or {}).get(family) or {}
        fam_a = (fig.get("families") or {}).get(family) or {}
        text.append(f"worst family {family}: KFR {before_after(fam_b, fam_a, 'kfr')} · leak "
                    f"{before_after(fam_b, fam_a, 'leak_rate')} · 4-bit "
                    f"{before_after(fam_b, fam_a, 'leak_rate_4bit')} · ")
    text.append("f: all figures")
    if after.reasons:
        n = len(after.reasons)
        text.append("\n" + short(f"{n} reason{'s' if n > 1 else ''}: " + "; ".join(after.reasons),
                                 78), style="red")
    return text


# the figures dialog's text width at 80 columns (its frame, padding and scroll bar take the
# rest): a longer line wraps and breaks the columns
FIGURES_WIDTH = 72
LABEL_WIDTH = 36


def figures_text(before: dict[str, Any], after: data.AuditView,
                 thresholds: dict[str, Any]) -> str:
    """Every figure of one audit row, before -> after, with its bar; the probe families; the
    reasons the gate gave. Figures only: no probe text, so nothing here is private. Lines fit
    ``FIGURES_WIDTH``: a label longer than its column gets a line of its own."""
    audit = {"before": before, "after": after.figures}
    lines = [f"{'figure':<{LABEL_WIDTH}} {'before':>6} {'after':>6}  bar"]
    for row in headline_rows(audit, thresholds):
        label = row["label"]
        if len(label) > LABEL_WIDTH:
            lines.append(label)
            label = ""
        lines.append(f"{label:<{LABEL_WIDTH}} {fmt(row['before']):>6} {fmt(row['after']):>6}  "
                     f"{row['rule']}".rstrip())
    families = family_rows(audit, thresholds)
    if families:
        lines += ["", f"{'family':<11} {'n':>3} {'KFR b->a':>12} {'leak b->a':>12} "
                      f"{'4-bit':>5}  bar"]
        for r in families:
            lines.append(
                f"{r['family']:<11} {fmt(r['n']):>3} "
                f"{fmt(r['kfr_before']) + '->' + fmt(r['kfr_after']):>12} "
                f"{fmt(r['leak_before']) + '->' + fmt(r['leak_after']):>12} "
                f"{fmt(r['leak_4bit_after']):>5}  {r['rule']}".rstrip())
    lines += ["", "Reasons it failed:" if after.reasons else "No reason to fail."]
    lines += [f"- {r}" for r in after.reasons]
    return "\n".join(lines)


class AuditScreen(AppScreen):
    SECTION = "audit"
    SHOWS_PRIVATE = True
    AUTO_FOCUS = "#audit-table"
    BINDINGS = [
        Binding("r", "pick_run", "Run", id="audit.pick",
                tooltip="Choose the run to show"),
        Binding("right_square_bracket", "step_run(1)", "Older run", show=False,
                id="audit.older",
                key_display="]",
                tooltip="Older run"),
        Binding("left_square_bracket", "step_run(-1)", "Newer run", show=False,
                id="audit.newer",
                key_display="[",
                tooltip="Newer run"),
        Binding("enter", "open_request", "Request detail", id="audit.open",
                tooltip="Open the selected request's detail"),
        Binding("f", "figures", "Figures", id="audit.figures",
                tooltip="Every figure of the selected row: bars, probe families, reasons"),
        Binding("o", "full_text", "Text", id="audit.full_text",
                tooltip="Read the selected failed probe's question and answer whole"),
        Binding("v", "app.toggle_reveal", "Reveal", id="audit.reveal",
                tooltip="Show or mask the failed probes' questions and answers"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.run_id: str | None = None
        self.audits: list[data.AuditView] = []
        self.probes: list[dict[str, Any]] = []  # the failed probes listed below

    def compose_body(self) -> ComposeResult:
        yield Static("", id="audit-head", classes="head")
        table: DataTable = DataTable(id="audit-table", cursor_type="row")
        table.add_column("request", width=14)
        for _, label in COLUMNS:
            table.add_column(f"{label} b→a", width=11)
        table.add_column("result", width=6)
        yield table
        yield Static("", id="audit-line", classes="note")
        yield Label("Failed probes", classes="section-title", id="probes-title")
        probes: DataTable = DataTable(id="probes-table", cursor_type="row")
        probes.add_column("probe", width=10)
        probes.add_column("question", width=26)
        probes.add_column("answer", width=30)
        yield probes

    def focus_main(self) -> None:
        self.query_one("#audit-table", DataTable).focus()

    def select_run(self, run_id: str) -> None:
        self.run_id = run_id
        if self.ready:
            self.safe_reload()

    def reload(self) -> None:
        store = self.services.ctx.store
        runs = data.runs(store)
        if self.run_id not in {r.run_id for r in runs}:
            # the newest run that has audit figures, else the newest run
            audited = [r for r in runs if r.state == COMPLETED]
            self.run_id = (audited or runs)[0].run_id if runs else None
        table = self.query_one("#audit-table", DataTable)
        head = self.query_one("#audit-head", Static)
        if self.run_id is None:
            self.audits = []
            head.update("No run yet: launch one on the Runs screen (3).")
            table.clear()
            self._show_probes()
            return
        run = next(r for r in runs if r.run_id == self.run_id)
        text = Text()
        text.append(f"Run {run.run_id}", style="bold")
        text.append(f"  {run.method}  ")
        text.append_text(state_text(run.state))
        text.append(f"  {run.created_at}\n")
        text.append(thresholds_line(run.config.get("thresholds", {})), style="dim")
        if run.error:
            text.append(f"\nerror: {short(run.error, 200)}", style="red")
        head.update(text)

        self.audits = data.audits_of_run(store, self.run_id)
        keys: list[str | None] = []
        for a in self.audits:
            if a.request_id not in keys:
                keys.append(a.request_id)
        # requests first, the run-wide row (retain figures) last
        keys.sort(key=lambda k: (k is None, k or ""))
        rows = []
        for key in keys:
            before = self._figures(key, "before")
            after_view = self._view(key, "after")
            after = after_view.figures if after_view else {}
            result = pass_text(after_view.passed) if after_view and key else Text("")
            rows.append((key or RUN_ROW, (
                key or RUN_ROW,
                *[before_after(before, after, k) for k, _ in COLUMNS],
                result)))
        refill(table, rows)
        if not rows:
            self.query_one("#audit-line", Static).update(
                "No figures yet: the audit runs before and after training.")
        self._show_probes()

    def _view(self, request_id: str | None, phase: str) -> data.AuditView | None:
        return next((a for a in self.audits
                     if a.request_id == request_id and a.phase == phase), None)

    def _figures(self, request_id: str | None, phase: str) -> dict[str, Any]:
        view = self._view(request_id, phase)
        return view.figures if view else {}

    def current_request(self) -> str | None:
        key = selected_key(self.query_one("#audit-table", DataTable))
        return None if key in (None, RUN_ROW) else key

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "audit-table":
            self._show_probes()

    def _show_probes(self) -> None:
        key = selected_key(self.query_one("#audit-table", DataTable))
        request_id = None if key == RUN_ROW else key
        line = self.query_one("#audit-line", Static)
        probes = self.query_one("#probes-table", DataTable)
        after = self._view(request_id, "after") if key else None
        self.probes = list(after.probe_records) if after is not None else []
        if after is None:
            probes.clear()
            if key:
                line.update("")
            return
        line.update(summary_line(self._figures(request_id, "before"), after))
        reveal = self.services.reveal
        rows = []
        for i, rec in enumerate(after.probe_records):
            group = probe_field(rec, "group", "kind").removeprefix("forget_")
            question = probe_field(rec, "question", "prompt")
            answer = probe_field(rec, "answer", "output", "response")
            rows.append((f"{i}", (
                short(group, 10),
                shown(question, reveal=reveal, width=26),
                shown(answer, why(rec), reveal=reveal, width=30),
            )))
        refill(probes, rows)
        self.query_one("#probes-title", Label).update(
            f"Failed probes of {request_id or 'the run'}: {len(rows)}"
            + ("" if reveal or not rows else " · v reveals the answers"))

    # -- actions --------------------------------------------------------------------------------

    @guarded
    def action_pick_run(self) -> None:
        runs = data.runs(self.services.ctx.store)
        if not runs:
            self.notify("No run yet.", severity="warning")
            return

        def chosen(run_id: str | None) -> None:
            if run_id:
                self.select_run(run_id)

        self.app.push_screen(PickScreen(
            "Audit of which run?",
            [(r.run_id, f"{r.run_id}  {r.method}  {r.state}  ({len(r.request_ids)} req.)")
             for r in runs], self.run_id), chosen)

    @guarded
    def action_step_run(self, step: int) -> None:
        ids = [r.run_id for r in data.runs(self.services.ctx.store)]
        if ids:
            i = ids.index(self.run_id) if self.run_id in ids else 0
            self.select_run(ids[(i + step) % len(ids)])

    def action_open_request(self) -> None:
        rid = self.current_request()
        if rid:
            self.post_message(OpenRequest(rid))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "audit-table":
            self.action_open_request()

    def action_figures(self) -> None:
        key = selected_key(self.query_one("#audit-table", DataTable))
        request_id = None if key == RUN_ROW else key
        after = self._view(request_id, "after") if key else None
        if after is None:
            self.notify("No audit after training for this row yet.", severity="warning")
            return
        run = next((r for r in data.runs(self.services.ctx.store) if r.run_id == self.run_id),
                   None)
        thresholds = run.config.get("thresholds", {}) if run else {}
        self.app.push_screen(FullTextScreen(
            f"Figures of {request_id or 'the run (retain probes)'} · {self.run_id}",
            [figures_text(self._figures(request_id, "before"), after, thresholds)]))

    def action_full_text(self) -> None:
        key = selected_key(self.query_one("#probes-table", DataTable))
        if key is None or not key.isdigit() or int(key) >= len(self.probes):
            self.notify("No failed probe selected (Tab moves to the list).", severity="warning")
            return
        rec = self.probes[int(key)]
        self.app.push_screen(FullTextScreen(
            f"Failed probe {int(key) + 1} · {probe_field(rec, 'group', 'kind')}",
            ["Question: ", Private(probe_field(rec, "question", "prompt"), "question"),
             "\n\nAnswer: ", Private(probe_field(rec, "answer", "output", "response"),
                                     why(rec))]))
