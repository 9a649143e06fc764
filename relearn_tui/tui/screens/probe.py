"""Probe console: one question, the deployed (subject) model's answer and the unlearned
model's answer side by side. This is how an operator spot-checks a model."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Input, Label, Select

from relearn_tui.runs import COMPLETED
from relearn_tui.tui import data
from relearn_tui.tui.masking import Private, PrivateInput, PrivateText, WhileMasked
from relearn_tui.tui.screens.base import AppScreen, guarded
from relearn_tui.tui.screens.modals import FullTextScreen

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
        Binding("o", "full_text", "Text", id="probe.full_text",
                tooltip="Read the question and both answers whole (wrapped, scrollable)"),
        Binding("v", "app.toggle_reveal", "Reveal", id="probe.reveal",
                tooltip="Show or mask the question and the answers"),
        Binding("ctrl+l", "clear", "Clear", id="probe.clear",
                tooltip="Clear the question and the answers"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.asked = 0
        self.last: tuple[str, str, str | None] | None = None  # question, both answers

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="probe-bar", classes="toolbar"):
            yield Label("Unlearned model of run", id="probe-run-label")
            yield Select([], prompt="none", id="probe-run", compact=True)
        yield PrivateInput(placeholder="Ask both models a question and press Enter",
                           id="probe-q")
        with Horizontal(id="probe-answers"):
            with Vertical(classes="answer-pane"):
                yield Label("Subject model (deployed)", classes="section-title",
                            id="subject-title")
                with VerticalScroll():
                    yield PrivateText(id="subject-answer")
            with Vertical(classes="answer-pane"):
                yield Label("Unlearned model", classes="section-title", id="unlearned-title")
                with VerticalScroll():
                    yield PrivateText(id="unlearned-answer")
        yield PrivateText(id="probe-status", classes="note")

    def focus_main(self) -> None:
        self.set_focus(None)

    def reload(self) -> None:
        select = self.query_one("#probe-run", Select)
        done = [r for r in data.runs(self.services.ctx.store)
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
        from relearn_tui.tui.formatting import deployment_label

        try:  # which model answers as "deployed" must show: a bare one answers as a stranger
            deployed = deployment_label(self.services.ctx.deployment)
        except Exception:
            deployed = "deployment file has an error"
        self.query_one("#subject-title", Label).update(f"Deployed model · {deployed}")
        run_id = self._run_id()
        self.query_one("#unlearned-title", Label).update(
            f"Unlearned model ({run_id})" if run_id else "Unlearned model (no run chosen)")

    def on_select_changed(self, _: Select.Changed) -> None:
        self._titles()

    def show_answers(self, question: str, subject: str, unlearned: str | None) -> None:
        self.asked += 1
        self.last = (question, subject, unlearned)
        self.query_one("#subject-answer", PrivateText).show([Private(subject, "answer")])
        self.query_one("#unlearned-answer", PrivateText).show(
            [Private(unlearned, "answer")] if unlearned is not None
            else ["(no unlearned model: choose a run with r)"])
        self.status([f"Question {self.asked}: ", Private(question, "question"),
                     WhileMasked(" · v reveals, o reads it whole")])

    def status(self, parts: list) -> None:
        self.query_one("#probe-status", PrivateText).show(parts)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "probe-q":
            self.action_send()

    @guarded
    def action_send(self) -> None:
        question = self.query_one("#probe-q", Input).value.strip()
        if not question:
            self.notify("Type a question first.", severity="warning")
            return
        ctx = self.services.ctx
        run_id = self._run_id()

        def work() -> tuple[str, str | None]:
            from relearn_tui.probing import answer_pair

            return answer_pair(ctx, question, run_id)

        def done(result: tuple[str, str | None]) -> None:
            self.show_answers(question, *result)

        self.status(["Asking both models… (loading them takes a while the first time)"])
        self.services.run_job(work, name="probe", done=done, exclusive=True, group="probe",
                              failed=lambda _: self.status([]), label="probing…")

    def action_ask(self) -> None:
        self.query_one("#probe-q", Input).focus()

    def action_choose_run(self) -> None:
        self.query_one("#probe-run", Select).focus()

    def action_clear(self) -> None:
        self.query_one("#probe-q", Input).value = ""
        self.last = None
        for wid in ("#subject-answer", "#unlearned-answer", "#probe-status"):
            self.query_one(wid, PrivateText).show([])

    def action_full_text(self) -> None:
        if self.last is None:
            self.notify("Ask a question first (/).", severity="warning")
            return
        question, subject, unlearned = self.last
        self.app.push_screen(FullTextScreen(f"Probe {self.asked}", [
            "Question: ", Private(question, "question"),
            "\n\nDeployed model: ", Private(subject, "answer"),
            f"\n\nUnlearned model ({self._run_id() or 'none'}): ",
            Private(unlearned, "answer") if unlearned is not None else "(none)"]))
