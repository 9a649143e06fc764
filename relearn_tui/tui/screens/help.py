"""The help screen: shows the keys it is given (the entry point passes every screen's, read
from their bindings by :mod:`relearn_tui.tui.keys`)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,question_mark,q", "dismiss", "Close", id="help.close"),
        # End pressed while the tables are still being laid out would stop short of the last
        # row: scroll once the layout is done
        Binding("end", "to_end", "Last row", show=False, priority=True, id="help.end"),
    ]

    def __init__(self, sections: list[tuple[str, list[tuple[str, str]]]]) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog", classes="dialog wide-dialog"):
            yield Label("Keys · Esc closes", classes="dialog-title")
            with VerticalScroll(id="help-body"):
                for title, keys in self.sections:
                    table = Table(box=None, show_header=False, padding=(0, 1), expand=True)
                    table.add_column(width=12, style="bold #ffb000", no_wrap=True)
                    table.add_column(ratio=1)
                    for key, what in keys:
                        table.add_row(key, what)
                    yield Static(Text(title, style="bold underline"), classes="help-title")
                    yield Static(table)

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()

    def action_to_end(self) -> None:
        body = self.query_one("#help-body", VerticalScroll)
        self.call_after_refresh(body.scroll_end, animate=False)
