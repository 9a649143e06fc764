"""The state of the one unlearning run this app is driving, shared by the screens."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from engine.progress import CancelToken, Progress

HISTORY = 240  # loss points kept per term: enough for a plot as wide as the terminal


@dataclass
class LiveRun:
    token: CancelToken = field(default_factory=CancelToken)
    run_id: str | None = None
    last: Progress | None = None
    losses: dict[str, list[float]] = field(default_factory=dict)
    loss_stage: str | None = None  # the stage whose training drew ``losses``
    outcome: str | None = None  # None while it runs; then completed|failed|stopped|error
    stopping: bool = False

    @property
    def running(self) -> bool:
        return self.outcome is None

    def update(self, progress: Progress) -> None:
        self.last = progress
        if progress.losses and progress.stage != self.loss_stage:
            # another training began (the audit's relearning attack after the run's own): its
            # terms are not the last one's, so the plots start again rather than mix the two
            self.losses = {}
            self.loss_stage = progress.stage
        for name, value in progress.losses.items():
            if value is None or not math.isfinite(value):
                continue
            points = self.losses.setdefault(name, [])
            points.append(float(value))
            del points[:-HISTORY]

    def stop(self) -> None:
        """Ask the run to stop at its next step; it keeps its checkpoint and can resume."""
        self.stopping = True
        self.token.cancel()

    def summary(self) -> str:
        """A few words for the navigation bar (the Runs screen has the details)."""
        if not self.running:
            return f"run {self.outcome}"
        if self.stopping:
            return "run stopping…"
        p = self.last
        if p is None or not p.total:
            return "run starting…"
        return f"{p.stage} {100 * p.done // max(p.total, 1)}%"
