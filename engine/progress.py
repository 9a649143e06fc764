"""Progress reporting and cancellation shared by every long engine job.

The TUI and the headless runner both render :class:`Progress` events; the engine never knows
which one is listening.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Progress:
    """A snapshot of a long job. ``total`` may be 0 when unknown."""

    stage: str
    done: int
    total: int
    message: str = ""
    epoch: int = 0
    epochs: int = 0
    losses: dict[str, float] = field(default_factory=dict)
    tokens_per_s: float = 0.0
    eta_s: float | None = None


ProgressFn = Callable[[Progress], None]


def ignore_progress(_: Progress) -> None:
    """The default listener: drop every event."""


class Cancelled(Exception):
    """Raised inside a job when its :class:`CancelToken` was set; the job left a resumable state."""


class CancelToken:
    """A thread-safe flag a UI sets and a job polls between steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled("cancelled by the operator")
