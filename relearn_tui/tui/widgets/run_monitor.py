"""Live view of the running unlearning job: stage, step, loss plots, tokens/s, ETA."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, ProgressBar, Sparkline, Static

from relearn_tui.tui.formatting import duration
from relearn_tui.tui.live import LiveRun

MAX_PLOTS = 3  # loss terms drawn; more would not fit 24 lines


class RunMonitor(Vertical):
    """Renders a :class:`LiveRun`; the screen calls :meth:`show` whenever it changes."""

    def compose(self) -> ComposeResult:
        yield Static("No run in progress", id="monitor-title")
        yield ProgressBar(total=None, show_eta=False, id="monitor-bar")
        yield Static("", id="monitor-stats")
        for i in range(MAX_PLOTS):
            with Horizontal(classes="loss-row", id=f"loss-row-{i}"):
                yield Label("", classes="loss-label")
                yield Sparkline([], classes="loss-plot")

    def show(self, live: LiveRun | None) -> None:
        title = self.query_one("#monitor-title", Static)
        bar = self.query_one("#monitor-bar", ProgressBar)
        stats = self.query_one("#monitor-stats", Static)
        rows = list(self.query(".loss-row").results(Horizontal))
        if live is None:
            title.update("No run in progress.\nChoose requests (space), a method and its "
                         "settings, then press l to launch.")
            bar.display = False
            stats.update("")
            for row in rows:
                row.display = False
            return
        bar.display = True
        p = live.last
        state = live.outcome or ("stopping" if live.stopping else "running")
        # a finished run's last stage is history: the title says only how it ended, and where
        # it was when it did not complete
        stage = p.stage if p and live.outcome != "completed" else None
        if stage and live.outcome:
            stage = f"during {stage}"
        title.update(f"Run {live.run_id or '…'} · {state}" + (f" · {stage}" if stage else ""))
        if p is not None and p.total:
            bar.update(total=p.total, progress=p.done)
        parts = []
        if p is not None:
            if p.total:
                parts.append(f"step {p.done}/{p.total}")
            if p.epochs:
                parts.append(f"epoch {p.epoch}/{p.epochs}")
            if p.tokens_per_s:
                parts.append(f"{p.tokens_per_s:,.0f} tok/s")
            if live.running:
                parts.append(f"ETA {duration(p.eta_s)}")
            if p.message:
                parts.append(p.message)
        stats.update(" · ".join(parts))
        terms = list(live.losses.items())[:MAX_PLOTS]
        for i, row in enumerate(rows):
            if i < len(terms):
                name, points = terms[i]
                row.display = True
                row.query_one(".loss-label", Label).update(f"{name[:10]:>10} {points[-1]:7.3f}")
                row.query_one(".loss-plot", Sparkline).data = list(points)
            else:
                row.display = False
