"""Probe console: one question, the deployed (subject) model's answer and the unlearned
model's answer side by side. This is how an operator spot-checks a model."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Input, Label, Select, Static

from relearn_tui.runs import COMPLETED
from relearn_tui.tui import data
from relearn_tui.tui.screens.base import AppScreen, guarded

NO_RUN = "__none__"


class ProbeScreen(AppScreen):
    SECTION = "probe"
    AUTO_FOCUS = ""  # typing starts with / so digits still switch screens
    BINDINGS = [
        Binding("slash", "ask", "Question", id="probe.ask",
                key_display="/",
                tooltip="Type a question (Enter asks both models, Esc leaves the field)"),
        Binding("r", "choose_run", "Unlearned model", id="probe.run",
                tooltip="Choose which run's unlearned model answers"),
        Binding("ctrl+l", "clear", "Clear", id="probe.clear",
                tooltip="Clear the question and the answers"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.asked = 0

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="probe-bar", classes="toolbar"):
            yield Label("Unlearned model of run", id="probe-run-label")
            yield Select([], prompt="none", id="probe-run", compact=True)
        yield Input(placeholder="Ask both models a question and press Enter", id="probe-q")
        with Horizontal(id="probe-answers"):
            with Vertical(classes="answer-pane"):
                yield Label("Subject model (deployed)", classes="section-title",
                            id="subject-title")
                with VerticalScroll():
                    yield Static("", id="subject-answer", markup=False)
            with Vertical(classes="answer-pane"):
                yield Label("Unlearned model", classes="section-title", id="unlearned-title")
                with VerticalScroll():
                    yield Static("", id="unlearned-answer", markup=False)
        yield Static("", id="probe-status", classes="note")

    def focus_main(self) -> None:
        self.set_focus(None)

    def reload(self) -> None:
        select = self.query_one("#probe-run", Select)
        done = [r for r in data.runs(self.relearn.ctx.store)
                if r.state == COMPLETED and r.record.get("merged_dir")]
        options = [(f"{r.run_id} ({r.method})", r.run_id) for r in done]
        current = select.value
        select.set_options(options)
        keys = [v for _, v in options]
        if current in keys:
            select.value = current
        elif keys:
            select.value = keys[0]  # the newest completed run
        self._titles()

    def _run_id(self) -> str | None:
        value = self.query_one("#probe-run", Select).value
        return value if isinstance(value, str) and value else None

    def _titles(self) -> None:
        run_id = self._run_id()
        self.query_one("#unlearned-title", Label).update(
            f"Unlearned model ({run_id})" if run_id else "Unlearned model (no run chosen)")

    def on_select_changed(self, _: Select.Changed) -> None:
        self._titles()

    def show_answers(self, question: str, subject: str, unlearned: str | None) -> None:
        self.asked += 1
        self.query_one("#subject-answer", Static).update(subject)
        self.query_one("#unlearned-answer", Static).update(
            unlearned if unlearned is not None else "(no unlearned model: choose a run with r)")
        self.query_one("#probe-status", Static).update(
            f"Question {self.asked}: {question}")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "probe-q":
            self.action_send()

    @guarded
    def action_send(self) -> None:
        question = self.query_one("#probe-q", Input).value.strip()
        if not question:
            self.notify("Type a question first.", severity="warning")
            return
        ctx = self.relearn.ctx
        run_id = self._run_id()

        def work() -> tuple[str, str | None]:
            from relearn_tui.probing import answer_pair

            return answer_pair(ctx, question, run_id)

        def done(result: tuple[str, str | None]) -> None:
            self.show_answers(question, *result)

        self.query_one("#probe-status", Static).update(
            "Asking both models… (loading them takes a while the first time)")
        self.relearn.activity["probe"] = "probing…"
        self.relearn.run_job(work, name="probe", done=done, exclusive=True, group="probe",
                             failed=lambda _: self.query_one("#probe-status", Static).update(""))

    def action_ask(self) -> None:
        self.query_one("#probe-q", Input).focus()

    def action_choose_run(self) -> None:
        self.query_one("#probe-run", Select).focus()

    def action_clear(self) -> None:
        self.query_one("#probe-q", Input).value = ""
        for wid in ("#subject-answer", "#unlearned-answer", "#probe-status"):
            self.query_one(wid, Static).update("")
