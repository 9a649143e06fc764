"""Request detail: the facts (masked until revealed), the event timeline, the metrics."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static, TabbedContent, TabPane

from relearn_tui import workflow
from relearn_tui.tui import data
from relearn_tui.tui.formatting import (
    days_left_text,
    figure,
    pass_text,
    short,
    state_text,
)
from relearn_tui.tui.masking import Private, shown
from relearn_tui.tui.messages import OpenReview
from relearn_tui.tui.screens.base import AppScreen, guarded
from relearn_tui.tui.screens.modals import ConfirmScreen, FullTextScreen
from relearn_tui.tui.widgets.tables import refill
from relearn_tui.views import request_rows

METRICS = (("kfr_heldout", "KFR"), ("krr", "KRR"), ("ls", "LS"), ("leak_rate", "leak"))


def detail_text(detail: dict[str, Any], width: int = 40) -> str:
    """An event's detail as compact key=value pairs (details never hold personal data)."""
    parts = []
    for key, value in detail.items():
        if isinstance(value, dict | list):
            value = len(value)
        parts.append(f"{key}={value}")
    return short(" ".join(parts), width)


def state_change(from_state: str | None, to_state: str | None) -> str:
    if from_state == to_state:
        return ""  # a decision that changed no state
    return f"→{to_state}"


class RequestDetailScreen(AppScreen):
    """Pushed over a section; Esc goes back."""

    AUTO_FOCUS = "#facts-table"
    SHOWS_PRIVATE = True
    BINDINGS = [
        Binding("escape", "back", "Back", id="detail.back",
                tooltip="Back to the list"),
        Binding("f", "tab('facts')", "Facts", id="detail.facts",
                tooltip="Facts tab (private values masked until v)"),
        Binding("t", "tab('timeline')", "Timeline", id="detail.timeline",
                tooltip="Timeline tab: every event with its actor"),
        Binding("m", "tab('metrics')", "Metrics", id="detail.metrics",
                tooltip="Metrics tab: audit figures before and after"),
        Binding("o", "full_text", "Text", id="detail.full_text",
                tooltip="Read the selected fact's question and answer whole (also Enter)"),
        Binding("v", "app.toggle_reveal", "Reveal", id="detail.reveal",
                tooltip="Show or mask the private values"),
        Binding("a", "augment", "Augment", show=False, id="detail.augment",
                tooltip="Augment this request (again)"),
        Binding("r", "review", "Review", show=False, id="detail.review",
                tooltip="Review this request's variants"),
    ]

    def __init__(self, request_id: str) -> None:
        super().__init__()
        self.request_id = request_id
        self.events: dict[str, data.EventView] = {}
        self.facts: dict[str, data.FactView] = {}
        self.state: str | None = None

    def section(self) -> str:
        return self.app.current_mode

    def compose_body(self) -> ComposeResult:
        yield Static("", id="detail-head", classes="head")
        with TabbedContent(id="detail-tabs", initial="facts"):
            with TabPane("Facts (f)", id="facts"):
                facts: DataTable = DataTable(id="facts-table", cursor_type="row")
                facts.add_column("#", width=2)
                facts.add_column("kind", width=14)
                facts.add_column("question", width=24)
                facts.add_column("answer", width=30)
                yield facts
            with TabPane("Timeline (t)", id="timeline"):
                events: DataTable = DataTable(id="timeline-table", cursor_type="row")
                events.add_column("UTC", width=11)
                events.add_column("actor", width=8)
                events.add_column("action", width=16)
                events.add_column("state", width=15)
                events.add_column("detail", width=18)
                yield events
                yield Static("", id="event-detail", classes="note")
            with TabPane("Metrics (m)", id="metrics"):
                metrics: DataTable = DataTable(id="metrics-table", cursor_type="row")
                metrics.add_column("run", width=24)
                metrics.add_column("phase", width=6)
                for _, label in METRICS:
                    metrics.add_column(label, width=5)
                metrics.add_column("result", width=6)
                yield metrics
                # every reason of every run, scrollable: a decision is read from them
                with VerticalScroll(id="metrics-reasons-box"):
                    yield Static("", id="metrics-reasons")

    def focus_main(self) -> None:
        self.query_one("#facts-table", DataTable).focus()

    def reload(self) -> None:
        ctx = self.services.ctx
        d = data.request_detail(ctx.store, self.request_id)
        with ctx.store.read() as s:
            row = request_rows(s, [self.request_id], today=self.services.today())[0]
        head = Text()
        head.append(d.request_id, style="bold")
        head.append(f"  {d.subject}  ")
        head.append_text(state_text(d.state))
        head.append(f"  due {row.deadline} ")
        if d.state not in workflow.TERMINAL:
            head.append_text(days_left_text(row.days_left))
        if d.extension_months:
            head.append(f" (+{d.extension_months}m)")
        if d.purged:
            head.append("  private values purged", style="dim")
        self.query_one("#detail-head", Static).update(head)

        reveal = self.services.reveal
        self.state = d.state
        self.facts = {str(f.fact_id): f for f in d.facts}
        refill(self.query_one("#facts-table", DataTable), [
            (str(f.fact_id), (
                str(f.position + 1),
                ", ".join(f.categories) or "not analysed",
                shown(f.question, "question", reveal=reveal, width=24),
                shown(f.answer, ", ".join(f.categories) or "answer", reveal=reveal, width=30),
            )) for f in d.facts])
        refill(self.query_one("#timeline-table", DataTable), [
            (str(e.event_id), (
                e.at[5:], short(e.actor, 8), e.action, state_change(e.from_state, e.to_state),
                detail_text(e.detail, 18),
            )) for e in d.events])
        self.events = {str(e.event_id): e for e in d.events}
        self._show_event()
        refill(self.query_one("#metrics-table", DataTable), [
            (f"{a.run_id}:{a.phase}:{i}", (
                a.run_id, a.phase, *[figure(a.figures.get(k)) for k, _ in METRICS],
                pass_text(a.passed) if a.phase == "after" else Text("-", style="dim"),
            )) for i, a in enumerate(d.audits)])
        reasons = [f"{a.run_id}: {r}" for a in d.audits if a.phase == "after" for r in a.reasons]
        self.query_one("#metrics-reasons", Static).update(
            "\n".join(reasons) if reasons else
            ("No audit yet: the metrics appear after a run." if not d.audits else ""))

    def _show_event(self) -> None:
        from relearn_tui.tui.widgets.tables import selected_key

        event = self.events.get(selected_key(self.query_one("#timeline-table", DataTable)) or "")
        self.query_one("#event-detail", Static).update(
            "" if event is None else f"{event.action} by {event.actor}: "
            + (detail_text(event.detail, 400) or "no detail"))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "facts-table":
            self.action_full_text()

    def action_full_text(self) -> None:
        from relearn_tui.tui.widgets.tables import selected_key

        fact = self.facts.get(selected_key(self.query_one("#facts-table", DataTable)) or "")
        if fact is None:
            return
        kinds = ", ".join(fact.categories) or "not analysed"
        self.app.push_screen(FullTextScreen(
            f"{self.request_id} · fact {fact.position + 1} · {kinds}",
            ["Question: ", Private(fact.question, "question"),
             "\n\nAnswer: ", Private(fact.answer, kinds)]))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "timeline-table":
            self._show_event()

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_tab(self, tab: str) -> None:
        self.query_one("#detail-tabs", TabbedContent).active = tab
        self.query_one(f"#{tab}-table", DataTable).focus()

    @guarded
    def action_augment(self) -> None:
        confirm_augment(self, self.request_id, self.state)

    def action_review(self) -> None:
        self.post_message(OpenReview(self.request_id))


def confirm_augment(screen: AppScreen, request_id: str, state: str | None) -> None:
    """Augment a request; when its variants were already reviewed, ask first: augmenting
    again replaces them and sends the request back to augmented."""
    if state not in workflow.AUGMENTABLE:
        screen.notify(f"{request_id} is {state}: only {', '.join(workflow.AUGMENTABLE)} "
                      "requests can be augmented.", severity="warning")
        return
    if state == workflow.SUBMITTED:
        screen.services.augment([request_id])
        return

    def answered(yes: bool | None) -> None:
        if yes:
            screen.services.augment([request_id])

    screen.app.push_screen(ConfirmScreen(
        f"Augment {request_id} again?",
        f"{request_id} is {state}: its variants were generated"
        + (" and reviewed" if state != workflow.AUGMENTED else "")
        + ". Augmenting again replaces them and the request goes back to augmented, to be "
        "reviewed again.", yes="Augment again"), answered)
