"""What every main screen shares: the navigation bar, the footer, reloading when data
changes, and actions whose errors end in a dialog instead of a crash."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar, cast

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Input

from relearn_tui.tui.services import Services
from relearn_tui.tui.widgets.navbar import NavBar

F = TypeVar("F", bound=Callable[..., Any])


def guarded(method: F) -> F:
    """Run a UI action; any exception becomes an error dialog and the app lives on."""

    @functools.wraps(method)
    def wrapper(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except Exception as exc:
            self.services.report_error(exc, doing=method.__name__.removeprefix("action_"))
            return None

    return cast(F, wrapper)


class AppScreen(Screen):
    """A screen with the navigation bar on top and the footer below."""

    SECTION: ClassVar[str] = ""
    TITLE_TEXT: ClassVar[str] = ""
    # a screen that shows private values masked or in full reloads when the reveal key flips
    SHOWS_PRIVATE: ClassVar[bool] = False
    BINDINGS = [
        Binding("escape", "leave_input", "Leave field", show=False, id="screen.leave_input",
                tooltip="Leave a text field (digits switch screens again)"),
    ]

    @property
    def services(self) -> Services:
        """What the screen may ask of the application (not the concrete App)."""
        return cast(Services, self.app)

    def compose(self) -> ComposeResult:
        yield NavBar(self.section())
        yield from self.compose_body()
        yield Footer(compact=True, show_command_palette=False)

    def section(self) -> str:
        """The numbered section highlighted in the navigation bar."""
        return self.SECTION

    def compose_body(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        self.watch(self.app, "data_version", self._data_changed, init=False)
        if self.SHOWS_PRIVATE:
            self.watch(self.app, "reveal", lambda _: self.safe_reload(), init=False)

    def on_screen_resume(self) -> None:
        self.safe_reload()

    def _data_changed(self, _: int) -> None:
        if self.is_current:
            self.safe_reload()

    @property
    def ready(self) -> bool:
        """Composed and mounted: a screen just switched to is not yet, and reloads itself
        when it is shown."""
        return self.is_mounted and bool(self.query(NavBar))

    def safe_reload(self) -> None:
        try:
            self.reload()
        except Exception as exc:
            self.services.report_error(exc, doing="reload")

    def reload(self) -> None:
        """Read what the screen shows from the database again."""

    def action_leave_input(self) -> None:
        """Escape in a text field hands the keys back to the screen (digits switch screens)."""
        if isinstance(self.focused, Input):
            self.focus_main()

    def focus_main(self) -> None:
        """Focus the screen's main widget (its table, usually)."""
        self.set_focus(None)
