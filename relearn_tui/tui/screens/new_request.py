"""The form for a request typed in by the operator (a letter, a phone call, an e-mail).

It builds the same object a request file holds and goes through the importer's validation,
so a typed request and an imported one obey the same rules and errors.
"""

from __future__ import annotations

import re
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from relearn_tui.tui.masking import PrivateInput

FORM_SOURCE = "new request form"


class FactInputs(Vertical):
    def __init__(self, index: int) -> None:
        super().__init__(classes="fact-inputs")
        self.index = index

    def compose(self) -> ComposeResult:
        yield Label(f"Fact {self.index + 1}", classes="field-label")
        with Horizontal(classes="fact-row"):
            yield PrivateInput(placeholder="question the model must not answer",
                               classes="fact-q")
            yield PrivateInput(placeholder="answer it learned", classes="fact-a")


class NewRequestScreen(ModalScreen[dict[str, Any] | None]):
    """Returns the request object (docs/design.md §4.1) or None when cancelled."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="new.cancel"),
        Binding("ctrl+n", "add_fact", "Add fact", id="new.add_fact"),
        Binding("ctrl+s", "save", "Save", id="new.save"),
        Binding("f2", "reveal", "Reveal", id="new.reveal",
                tooltip="Show or mask what is typed (the app's reveal state)"),
    ]

    def __init__(self) -> None:
        super().__init__(classes="dialog-screen")
        self.facts = 0

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide-dialog"):
            yield Label("New erasure request", classes="dialog-title")
            with VerticalScroll(id="new-form"):
                yield Label("Subject name", classes="field-label")
                yield PrivateInput(id="subject-name")
                with Horizontal(classes="fact-row"):
                    yield PrivateInput(placeholder="reference (optional)",
                                       id="subject-reference")
                    yield Input(placeholder="ground, e.g. art17-1a (optional)", id="ground")
            yield Static("", id="form-error", classes="form-error")
            yield Static("ctrl+n: add a fact · ctrl+s: save · F2: show/mask · Esc: cancel",
                         classes="dialog-help")

    async def on_mount(self) -> None:
        await self.action_add_fact()
        self.query_one("#subject-name", Input).focus()

    async def action_add_fact(self) -> None:
        row = FactInputs(self.facts)
        self.facts += 1
        form = self.query_one("#new-form", VerticalScroll)
        await form.mount(row)
        form.scroll_end(animate=False)
        if self.facts > 1:
            row.query_one(".fact-q", Input).focus()

    def request_object(self) -> dict[str, Any]:
        subject: dict[str, Any] = {"name": self.query_one("#subject-name", Input).value}
        reference = self.query_one("#subject-reference", Input).value
        if reference.strip():
            subject["reference"] = reference
        obj: dict[str, Any] = {"subject": subject, "facts": []}
        ground = self.query_one("#ground", Input).value
        if ground.strip():
            obj["ground"] = ground
        for row in self.query(FactInputs).results(FactInputs):
            q = row.query_one(".fact-q", Input).value
            a = row.query_one(".fact-a", Input).value
            if q.strip() or a.strip():  # an untouched extra row is not a fact
                obj["facts"].append({"question": q, "answer": a})
        return obj

    def show_error(self, message: str) -> None:
        # the importer counts facts from 0 ("facts[1]"); the form labels them from 1
        message = re.sub(r"facts\[(\d+)\]", lambda m: f"Fact {int(m.group(1)) + 1}", message)
        self.query_one("#form-error", Static).update(message)

    def action_save(self) -> None:
        from datetime import UTC, datetime
        from pathlib import Path

        from relearn_tui.importer import RequestFileError, parse_request

        obj = self.request_object()
        try:  # validate here so the operator can fix the form instead of retyping it
            parse_request(obj, Path(FORM_SOURCE), "", datetime.now(UTC))
        except RequestFileError as exc:
            self.show_error(str(exc))
            return
        self.dismiss(obj)

    def action_reveal(self) -> None:
        self.app.action_toggle_reveal()  # type: ignore[attr-defined]

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        inputs = list(self.query(Input).results(Input))
        index = inputs.index(event.input)
        if index + 1 < len(inputs):
            inputs[index + 1].focus()
        else:
            self.action_save()
