"""Every key of every screen, read from the bindings themselves, for the help screen, the
command palette and the keys table in docs/usage.md: one list that cannot drift from what
the keys do. The App's own keys live here too, so nothing but the entry point imports it."""

from __future__ import annotations

from textual.binding import Binding, BindingType

from relearn_tui.tui.screens.audit import AuditScreen
from relearn_tui.tui.screens.base import AppScreen
from relearn_tui.tui.screens.detail import RequestDetailScreen
from relearn_tui.tui.screens.probe import ProbeScreen
from relearn_tui.tui.screens.reports import ReportsScreen
from relearn_tui.tui.screens.requests import RequestsScreen
from relearn_tui.tui.screens.review import ReviewScreen
from relearn_tui.tui.screens.runs import RunsScreen
from relearn_tui.tui.widgets.navbar import SECTIONS

APP_BINDINGS: list[BindingType] = [
    *[Binding(str(i), f"go('{mode}')", f"Go to {label}", show=False, id=f"go.{mode}")
      for i, (mode, label) in enumerate(SECTIONS, start=1)],
    Binding("question_mark,f1", "help", "Help", id="app.help", key_display="?",
            tooltip="This list of keys"),
    Binding("v", "toggle_reveal", "Reveal", show=False, id="app.reveal",
            tooltip="Show or mask private values (questions, answers, probe answers)"),
    Binding("ctrl+r", "refresh", "Refresh", show=False, id="app.refresh",
            tooltip="Read the database again (done by itself when another process writes)"),
    Binding("q,ctrl+q", "quit", "Quit", id="app.quit", key_display="q",
            tooltip="Quit (asks first while a run is in progress; the run stays resumable)"),
]

# the numbered sections' screens, in the navigation bar's order
SCREENS: dict[str, type[AppScreen]] = {
    "requests": RequestsScreen, "review": ReviewScreen, "runs": RunsScreen,
    "audit": AuditScreen, "probe": ProbeScreen, "reports": ReportsScreen,
}

KEY_NAMES = {
    "question_mark": "?", "slash": "/", "left_square_bracket": "[",
    "right_square_bracket": "]", "escape": "Esc", "enter": "Enter", "space": "Space",
}

# keys a widget handles itself, which no binding lists
WIDGET_KEYS: dict[str, list[tuple[str, str]]] = {
    "runs": [("Space", "Select or unselect a request")],
    "probe": [("Enter", "Ask both models")],
}


def key_label(binding: Binding) -> str:
    if binding.key_display:
        return binding.key_display
    return " ".join(KEY_NAMES.get(k.strip(), k.strip()) for k in binding.key.split(","))


def rows(bindings: list[BindingType]) -> list[tuple[str, str]]:
    out = []
    for b in bindings:
        if isinstance(b, Binding) and b.description:
            out.append((key_label(b), b.tooltip or b.description))
    return out


def key_sections(app_bindings: list[BindingType] | type | None = None,
                 ) -> list[tuple[str, list[tuple[str, str]]]]:
    """(section title, [(keys, what they do)]) for the help screen and the docs."""
    if isinstance(app_bindings, type):
        app_bindings = list(getattr(app_bindings, "BINDINGS", APP_BINDINGS))
    everywhere = rows(app_bindings or APP_BINDINGS) + rows(AppScreen.BINDINGS) + [
        ("ctrl+p", "Command palette: every action of every screen by name, jump to a "
                   "request or run"),
        ("Tab, S-Tab", "Move between fields and tables"),
    ]
    out = [("Everywhere", everywhere)]
    labels = dict(SECTIONS)
    for i, (mode, screen) in enumerate(SCREENS.items(), start=1):
        out.append((f"{i} {labels[mode]}", rows(screen.BINDINGS) + WIDGET_KEYS.get(mode, [])))
        if mode == "requests":
            out.append(("Request detail (Enter on a request)",
                        rows(RequestDetailScreen.BINDINGS)))
    return out
