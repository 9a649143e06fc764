"""What a screen may ask of the application: a small interface instead of the concrete App.

Screens get data and actions down through these members and send navigation up as messages
(:mod:`relearn_tui.tui.messages`); only the entry point (``app.py``) imports the App, so the
screens, the help and the palette import no circle.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, Protocol, TypeVar

from textual.worker import Worker

from relearn_tui.context import AppContext
from relearn_tui.tui.live import LiveRun

T = TypeVar("T")


class Services(Protocol):
    ctx: AppContext
    reveal: bool
    live: LiveRun | None
    activity: dict[str, str]

    def today(self) -> date: ...

    def data_changed(self) -> None: ...

    def run_job(self, work: Callable[[], T], *, name: str,
                done: Callable[[T], None] | None = None,
                failed: Callable[[BaseException], None] | None = None,
                group: str = "jobs", exclusive: bool = False,
                label: str | None = None) -> Worker[T]: ...

    def report_error(self, error: BaseException, *, doing: str = "") -> None: ...

    def attempt(self, doing: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        ...

    def import_paths(self, paths: Sequence[str], subject: str | None = None) -> None: ...

    def augment(self, request_ids: Sequence[str]) -> None: ...

    def launch_run(self, request_ids: Sequence[str] | None, settings: Any,
                   resume_run_id: str | None = None) -> bool: ...

    def cancel_run(self) -> bool: ...
