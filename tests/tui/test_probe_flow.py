"""Pilot test of the Probe console on the tiny random model: one question, the deployed
model's answer and a run's unlearned model's answer side by side."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from relearn_tui.store.models import Run
from relearn_tui.tui.screens.probe import ProbeScreen
from tests.tui.conftest import SIZE, settle

pytestmark = pytest.mark.anyio


async def test_probe_console_answers_side_by_side(run_ctx, app_factory, tiny_subject_dir):
    at = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
    with run_ctx.store.session() as s:
        # a finished run over the tiny fine-tuned model: both panes come from real models
        # (a random model's greedy answer is empty, so the fine-tuned one answers here)
        s.add(Run(id="RUN-20261128-093000-f00d", method="relearn", state="completed",
                  request_ids=[], operator="alice", config={},
                  record={"merged_dir": str(tiny_subject_dir),
                          "subject": str(tiny_subject_dir)}, created_at=at,
                  finished_at=at))
    app = app_factory(run_ctx)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ProbeScreen)
        assert screen.query_one("#probe-run").value == "RUN-20261128-093000-f00d"
        await pilot.press("slash")
        screen.query_one("#probe-q").value = "Who is Lena Fictive?"
        await pilot.press("enter")
        await settle(pilot, timeout=300)
        # masked (the default): the question and both answers are hidden
        status = str(screen.query_one("#probe-status").render())
        assert "Question 1: •••••" in status and "Lena" not in status
        assert str(screen.query_one("#subject-answer").render()).startswith("•••••")
        await pilot.press("escape", "v")
        await pilot.pause()
        subject = str(screen.query_one("#subject-answer").render())
        unlearned = str(screen.query_one("#unlearned-answer").render())
        assert subject.strip() and unlearned.strip() and "•••••" not in subject
        assert "no unlearned model" not in unlearned
        assert "Question 1: Who is Lena Fictive?" in str(screen.query_one("#probe-status")
                                                          .render())
