"""Small dialogs: errors, confirmations, reasons, pickers. Each returns its answer through
``dismiss`` so callers use ``push_screen(dialog, callback)``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from relearn_tui.tui.masking import Part, PrivateInput, PrivateText


def _expected(error: BaseException) -> bool:
    """An error written for the operator (shown in the form) rather than a bug."""
    from relearn_tui.errors import as_operator_error

    return as_operator_error(error) is not None


class ErrorScreen(ModalScreen[None]):
    """Shows what went wrong in one message; the app keeps running."""

    BINDINGS = [
        Binding("escape,enter", "dismiss", "Close", id="error.close"),
    ]

    def __init__(self, title: str, message: str) -> None:
        super().__init__(classes="dialog-screen")
        self.title_text, self.message = title, message

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog error-dialog"):
            yield Label(self.title_text, classes="dialog-title")
            with VerticalScroll(classes="dialog-body"):
                yield Static(self.message, markup=False, id="error-message")
            yield Button("Close (Enter)", variant="error", id="close")

    def on_button_pressed(self, _: Button.Pressed) -> None:
        self.dismiss()


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question; No is the default."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(self, title: str, message: str, yes: str = "Yes") -> None:
        super().__init__(classes="dialog-screen")
        self.title_text, self.message, self.yes = title, message, yes

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield Static(self.message, markup=False, classes="dialog-body")
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.yes} (y)", variant="warning", id="yes")
                yield Button("No (n)", variant="primary", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class FormScreen(ModalScreen):
    """A dialog of labelled inputs; Enter on the last one (or ctrl+s) submits."""

    BINDINGS = [
        Binding("escape", "dismiss_form", "Cancel", id="form.cancel"),
        Binding("ctrl+s", "submit", "Save", id="form.save"),
    ]

    PRIVATE_FIELDS: frozenset[str] = frozenset()  # may hold a private value: masked input

    def __init__(self, title: str, fields: list[tuple[str, str, str]], note: str = "",
                 submit: Callable[[dict[str, str]], Any] | None = None) -> None:
        """``fields``: (id, label, initial value). ``submit`` does the work with the values;
        when it fails with an operator's error the dialog stays open with what was typed and
        shows why, so nothing has to be typed again."""
        super().__init__(classes="dialog-screen")
        self.title_text, self.fields, self.note = title, fields, note
        self.submit = submit

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            if self.note:
                yield Static(self.note, markup=False, classes="dialog-note")
            for field_id, label, value in self.fields:
                yield Label(label, classes="field-label")
                # a prefilled field is edited, not retyped: the first key must not wipe it
                kind = PrivateInput if field_id in self.PRIVATE_FIELDS else Input
                yield kind(value=value, id=field_id, classes="field",
                           select_on_focus=not value)
            yield Static("", id="form-error", classes="form-error")
            yield Static("Enter: next / submit · ctrl+s: save · Esc: cancel",
                         classes="dialog-help")

    def values(self) -> dict[str, str]:
        return {fid: self.query_one(f"#{fid}", Input).value for fid, _, _ in self.fields}

    def show_error(self, message: str) -> None:
        self.query_one("#form-error", Static).update(message)

    def validate(self, values: dict[str, str]) -> str | None:
        """An error message, or None when the values can be submitted."""
        return None

    def action_dismiss_form(self) -> None:
        self.dismiss(None)

    def action_submit(self) -> None:
        values = self.values()
        problem = self.validate(values)
        if problem:
            self.show_error(problem)
            return
        if self.submit is not None:
            try:
                self.submit(values)
            except Exception as exc:
                if not _expected(exc):
                    self.dismiss(None)
                    self.app.call_later(self.app.report_error, exc,  # type: ignore[attr-defined]
                                        doing=self.title_text)
                    return
                self.show_error(str(exc))
                return
        self.dismiss(values)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        inputs = list(self.query(Input).results(Input))
        index = inputs.index(event.input)
        if index + 1 < len(inputs):
            inputs[index + 1].focus()
        else:
            self.action_submit()


class ReasonScreen(FormScreen):
    """Deny or cancel a request: a reason is required and goes into the event log."""

    def __init__(self, title: str, note: str = "",
                 submit: Callable[[dict[str, str]], Any] | None = None) -> None:
        super().__init__(title, [("reason", "Reason (recorded in the event log)", "")], note,
                         submit=submit)

    def validate(self, values: dict[str, str]) -> str | None:
        return None if values["reason"].strip() else "A reason is required."


class ExtendScreen(FormScreen):
    """Extend a deadline. Once it has passed, an extension is refused unless the operator
    types ``late`` and a reason: GDPR Art. 12(3) wants the subject told within the first
    month, so a late one is an override, recorded as such."""

    def __init__(self, request_id: str, used: int, days_left: int, deadline: str,
                 submit: Callable[[dict[str, str]], Any] | None = None) -> None:
        self.late = days_left < 0
        fields = [("months", "Months (the total extension is at most 2)", "1"),
                  ("reason", "Reason (recorded in the event log)", "")]
        note = f"Already extended by {used} month(s). Due {deadline}."
        if self.late:
            fields.append(("override", "Type late to extend after the deadline anyway", ""))
            note = (f"The deadline passed on {deadline} ({-days_left} day(s) ago). An extension "
                    "must be notified within the first month (GDPR Art. 12(3)): extending now "
                    "is an override, recorded with its reason. " + note)
        super().__init__(f"Extend the deadline of {request_id}", fields, note=note,
                         submit=submit)

    def validate(self, values: dict[str, str]) -> str | None:
        if not values["months"].strip().isdigit() or int(values["months"]) < 1:
            return "Months must be a whole number, 1 or 2."
        if not values["reason"].strip():
            return "A reason is required."
        if self.late and values.get("override", "").strip().casefold() != "late":
            return "Refused: the deadline has passed. Type late to record an override."
        return None


class ImportScreen(FormScreen):
    PRIVATE_FIELDS = frozenset({"subject"})

    def __init__(self, start: str = "") -> None:
        super().__init__(
            "Import requests",
            [("path", "File or folder (*.json, *.jsonl)", start),
             ("subject", "Subject name (only for bare question/answer lists)", "")],
            note="A file is imported whole or not at all; nothing stored is touched by an "
                 "error.",
        )

    def validate(self, values: dict[str, str]) -> str | None:
        return None if values["path"].strip() else "Type a file or folder path."


class EditVariantScreen(FormScreen):
    """Edit one variant's texts; the result is verified again before it can be approved."""

    def __init__(self, variant_id: int, kind: str, question: str, answer: str) -> None:
        super().__init__(
            f"Edit variant {variant_id} ({kind})",
            [("question", "Question", question), ("answer", "Sanitised answer", answer)],
            note="The edited answer is scanned again for private values and PII.",
        )

    def validate(self, values: dict[str, str]) -> str | None:
        if not values["question"].strip() or not values["answer"].strip():
            return "Neither the question nor the answer may be empty."
        return None


class MarkValueScreen(FormScreen):
    """Mark a piece of a fact's answer as a private value the detector missed."""

    PRIVATE_FIELDS = frozenset({"value"})

    def __init__(self, fact_number: int, categories: Sequence[str],
                 submit: Callable[[dict[str, str]], Any] | None = None) -> None:
        self.categories = tuple(categories)
        super().__init__(
            f"Mark a private value in fact {fact_number}",
            [("value", "The value, as the answer writes it", ""),
             ("category", "Category", "other")],
            note="It is then kept out of the training variants (those holding it are flagged "
                 "and lose their approval) and looked for by every leak probe. Categories: "
                 + ", ".join(self.categories) + ".",
            submit=submit)

    def validate(self, values: dict[str, str]) -> str | None:
        if not values["value"].strip():
            return "Type the value as the fact's answer writes it."
        if values["category"].strip() not in self.categories:
            return "The category must be one of those listed above."
        return None


class FullTextScreen(ModalScreen[None]):
    """A whole text (a fact, a variant, a probe's question and answer), wrapped and
    scrollable; its private parts follow the one masking rule (v reveals here too)."""

    BINDINGS = [
        Binding("escape,enter,o", "dismiss", "Close", id="text.close"),
        Binding("v", "reveal", "Reveal", id="text.reveal",
                tooltip="Show or mask the private values"),
    ]

    def __init__(self, title: str, parts: Sequence[Part]) -> None:
        super().__init__(classes="dialog-screen")
        self.title_text, self.parts = title, list(parts)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide-dialog"):
            yield Label(self.title_text, classes="dialog-title")
            with VerticalScroll(id="full-text-body", classes="dialog-body"):
                yield PrivateText(self.parts, id="full-text")
            yield Static("↑↓ PgUp PgDn: scroll · v: reveal/mask · Esc: close",
                         classes="dialog-help")

    def on_mount(self) -> None:
        self.query_one("#full-text-body").focus()

    def action_reveal(self) -> None:
        self.app.action_toggle_reveal()  # type: ignore[attr-defined]


class PickScreen(ModalScreen[str | None]):
    """Choose one item from a list (a request to review, a run to audit)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="pick.cancel")]

    def __init__(self, title: str, options: list[tuple[str, str]],
                 current: str | None = None) -> None:
        """``options``: (key, label)."""
        super().__init__(classes="dialog-screen")
        self.title_text, self.options, self.current = title, options, current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield OptionList(*[Option(label, id=key) for key, label in self.options],
                             id="pick-list")
            yield Static("Enter: choose · Esc: cancel", classes="dialog-help")

    def on_mount(self) -> None:
        ol = self.query_one(OptionList)
        keys = [k for k, _ in self.options]
        if self.current in keys:
            ol.highlighted = keys.index(self.current)
        ol.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
