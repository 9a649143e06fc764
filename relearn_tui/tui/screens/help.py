"""The help screen: every key of every screen, read from the bindings themselves so it can
never drift from what the keys do."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

KEY_NAMES = {
    "question_mark": "?", "slash": "/", "left_square_bracket": "[",
    "right_square_bracket": "]", "escape": "Esc", "enter": "Enter", "space": "Space",
}


def key_label(binding: Binding) -> str:
    if binding.key_display:
        return binding.key_display
    return " ".join(KEY_NAMES.get(k.strip(), k.strip()) for k in binding.key.split(","))


def key_sections() -> list[tuple[str, list[tuple[str, str]]]]:
    """(section title, [(keys, what they do)]) for the help screen and the README."""
    from relearn_tui.tui.app import RelearnApp
    from relearn_tui.tui.screens.audit import AuditScreen
    from relearn_tui.tui.screens.base import AppScreen
    from relearn_tui.tui.screens.detail import RequestDetailScreen
    from relearn_tui.tui.screens.probe import ProbeScreen
    from relearn_tui.tui.screens.reports import ReportsScreen
    from relearn_tui.tui.screens.requests import RequestsScreen
    from relearn_tui.tui.screens.review import ReviewScreen
    from relearn_tui.tui.screens.runs import RunsScreen

    def rows(bindings: list[BindingType]) -> list[tuple[str, str]]:
        out = []
        for b in bindings:
            if isinstance(b, Binding) and b.description:
                out.append((key_label(b), b.tooltip or b.description))
        return out

    everywhere = rows(RelearnApp.BINDINGS) + rows(AppScreen.BINDINGS) + [
        ("ctrl+p", "Command palette: every action by name, jump to a request or run"),
        ("Tab, S-Tab", "Move between fields and tables"),
    ]
    return [
        ("Everywhere", everywhere),
        ("1 Requests", rows(RequestsScreen.BINDINGS)),
        ("Request detail (Enter on a request)", rows(RequestDetailScreen.BINDINGS)),
        ("2 Review", rows(ReviewScreen.BINDINGS)),
        ("3 Runs", [*rows(RunsScreen.BINDINGS), ("Space", "Select or unselect a request")]),
        ("4 Audit", rows(AuditScreen.BINDINGS)),
        ("5 Probe", [*rows(ProbeScreen.BINDINGS), ("Enter", "Ask both models")]),
        ("6 Reports", rows(ReportsScreen.BINDINGS)),
    ]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,question_mark,q", "dismiss", "Close", id="help.close"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog", classes="dialog wide-dialog"):
            yield Label("Keys · Esc closes", classes="dialog-title")
            with VerticalScroll(id="help-body"):
                for title, keys in key_sections():
                    table = Table(box=None, show_header=False, padding=(0, 1), expand=True)
                    table.add_column(width=12, style="bold #ffb000", no_wrap=True)
                    table.add_column(ratio=1)
                    for key, what in keys:
                        table.add_row(key, what)
                    yield Static(Text(title, style="bold underline"), classes="help-title")
                    yield Static(table)

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()
