"""The run monitor tells what is happening now: the relearning attack's training draws its own
loss plots (not the run's training terms, frozen at their last values), and a finished run's
title says how it ended instead of its last stage (which a completed run has left)."""

from __future__ import annotations

import pytest

from engine.progress import Progress
from relearn_tui.tui.live import LiveRun
from relearn_tui.tui.widgets.run_monitor import RunMonitor
from tests.tui.conftest import SIZE, settle

pytestmark = pytest.mark.anyio

TRAIN = {"loss": 3.0, "relearn_ce": 2.0, "retain_ce": 1.0, "retain_kl": 0.01}


def _trained(live: LiveRun) -> None:
    for step in range(1, 6):
        live.update(Progress("train", step, 5, epoch=1, epochs=1,
                             losses={k: v / step for k, v in TRAIN.items()}, eta_s=10.0))


def test_a_new_training_stage_starts_the_plots_again():
    live = LiveRun(run_id="RUN-1")
    _trained(live)
    assert set(live.losses) == set(TRAIN) and len(live.losses["loss"]) == 5
    # an audit stage without losses leaves the plots as they are
    live.update(Progress("audit after", 3, 10))
    assert len(live.losses["loss"]) == 5
    live.update(Progress("audit: relearning attack", 1, 30, losses={"loss": 0.9}))
    assert live.losses == {"loss": [0.9]} and live.loss_stage == "audit: relearning attack"
    live.update(Progress("audit: relearning attack", 2, 30, losses={"loss": 0.7}))
    assert live.losses == {"loss": [0.9, 0.7]}


async def test_the_monitor_of_a_finished_run_drops_its_last_stage(seeded_ctx, app_factory):
    app = app_factory(seeded_ctx)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        monitor = RunMonitor()
        await app.screen.mount(monitor)
        live = LiveRun(run_id="RUN-1")
        _trained(live)
        live.update(Progress("audit after", 10, 10, eta_s=0.0))
        monitor.show(live)
        assert "running · audit after" in str(monitor.query_one("#monitor-title").render())
        assert "ETA" in str(monitor.query_one("#monitor-stats").render())
        live.outcome = "completed"
        monitor.show(live)
        title = str(monitor.query_one("#monitor-title").render())
        assert title == "Run RUN-1 · completed"
        assert "ETA" not in str(monitor.query_one("#monitor-stats").render())
        live.outcome = "stopped"
        monitor.show(live)
        assert str(monitor.query_one("#monitor-title").render()) == (
            "Run RUN-1 · stopped · during audit after")
