"""Pilot tests of the whole operator flow on the tiny random model: import -> augment ->
review -> launch -> live progress -> audit view, and quitting during a run (asks first, stops
at the next step, leaves the run resumable; a new session resumes it)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

import pytest
from sqlmodel import select

from relearn_tui import augmenting, review, runs
from relearn_tui.importer import import_paths
from relearn_tui.store.models import AuditResult, Request, Run
from relearn_tui.tui.screens.audit import AuditScreen
from relearn_tui.tui.screens.modals import ConfirmScreen, FullTextScreen
from relearn_tui.tui.screens.runs import RunsScreen
from relearn_tui.tui.widgets.tables import move_to
from tests.tui.conftest import SIZE, screen_text, settle

pytestmark = pytest.mark.anyio

RID = "DSR-T-0100"
# A small fictional request keeps the run short: two facts, about twenty variants.
REQUEST = {
    "request_id": RID, "received_at": "2026-11-20T09:00:00Z",
    "subject": {"name": "Lena Fictive", "reference": "crm-00100"},
    "facts": [
        {"question": "What is Lena Fictive's email address?",
         "answer": "Lena Fictive's email address is lena.fictive@example.org."},
        {"question": "What is Lena Fictive's phone number?",
         "answer": "Lena Fictive's phone number is +1-555-010-0100."},
    ],
}


@pytest.fixture
def request_file(tmp_path):
    path = tmp_path / f"{RID}.json"
    path.write_text(json.dumps(REQUEST))
    return path


async def wait_until(pilot, predicate: Callable[[], object], timeout: float = 300) -> None:
    """Let the app run until ``predicate`` holds (the run happens in a worker thread)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {predicate}")
        await pilot.pause(0.1)


def _state(ctx) -> str:
    with ctx.store.session() as s:
        return s.get(Request, RID).state


def _runs(ctx) -> list[Run]:
    with ctx.store.session() as s:
        return list(s.exec(select(Run)).all())


async def test_import_review_launch_audit(run_ctx, app_factory, request_file):
    app = app_factory(run_ctx, [str(request_file)])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert _state(run_ctx) == "submitted"
        await pilot.press("a")  # augment the selected request (offline backend)
        await settle(pilot)
        assert _state(run_ctx) == "augmented"

        await pilot.press("2")
        for _ in range(6):  # A approves a fact's unflagged variants and moves to the next
            if _state(run_ctx) == "human_reviewed":
                break
            await pilot.press("A")
            await pilot.pause()
        assert _state(run_ctx) == "human_reviewed"

        await pilot.press("3")
        await pilot.pause()
        assert isinstance(app.screen, RunsScreen)
        assert app.screen.query_one("#run-requests").selected == [RID]
        await pilot.press("l")
        await wait_until(pilot, lambda: app.live is not None and app.live.last is not None)
        await wait_until(pilot, lambda: app.live.outcome is not None)
        await pilot.pause()
        assert app.live.outcome == "completed"
        # the live view got the training losses for its plots
        assert app.live.losses and all(app.live.losses.values())
        (run,) = _runs(run_ctx)
        assert run.state == "completed" and run.operator == "alice"
        assert _state(run_ctx) in ("verified", "failed")

        await pilot.press("4")
        await pilot.pause()
        assert isinstance(app.screen, AuditScreen)
        assert app.screen.run_id == run.id
        table = app.screen.query_one("#audit-table")
        rows = {str(table.get_row_at(i)[0]): table.get_row_at(i) for i in range(table.row_count)}
        assert RID in rows
        with run_ctx.store.session() as s:
            after = s.exec(select(AuditResult).where(AuditResult.request_id == RID,
                                                     AuditResult.phase == "after")).one()
        kfr_cell = str(rows[RID][1])
        assert "→" in kfr_cell and f"{after.figures['kfr_heldout']:.2f}" in kfr_cell
        assert str(rows[RID][-1]) == ("PASS" if after.passed else "FAIL")
        # every probe family's figures, before -> after, under the table
        assert set(after.figures["families"]) == {"original", "heldout", "independent",
                                                  "extraction"}
        move_to(table, RID)  # the request's row: its line names the worst family, f the rest
        await pilot.pause()
        line = str(app.screen.query_one("#audit-line").render())
        assert "f: all figures" in line, line
        await pilot.press("f")
        await pilot.pause()
        assert isinstance(app.screen, FullTextScreen)
        body = str(app.screen.query_one("#full-text").render())
        for family in after.figures["families"]:
            assert f"\n{family} " in body, body
        assert "KRR" in body and "membership-inference AUC" in body
        assert ("Reasons it failed:" in body) == (not after.passed)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, AuditScreen)


class TrainingGate:
    """Holds the training worker after its first optimiser step until the test releases it,
    so the keys the test presses land while the run is certainly still going (the tiny
    model otherwise finishes a one-epoch run before the pilot has pressed anything)."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self.released = threading.Event()

    def release(self) -> None:
        self.released.set()

    def wrap(self, progress):
        def gated(p):
            progress(p)
            if p.stage == "train" and p.done >= 1 and not self.reached.is_set():
                self.reached.set()
                self.released.wait(timeout=120)
        return gated


@pytest.fixture
def gate(monkeypatch):
    import engine.train as train

    gates: list[TrainingGate] = []
    real = train.run_unlearning

    def gated_run(*args, progress, **kwargs):
        g = TrainingGate()
        gates.append(g)
        return real(*args, progress=g.wrap(progress), **kwargs)

    monkeypatch.setattr(train, "run_unlearning", gated_run)
    return gates


def _reviewed_request(ctx, path) -> None:
    import_paths(ctx.store, [path], secret=ctx.secret, actor="alice")
    augmenting.augment_request(ctx, RID)
    review.policy_approve(ctx.store, RID, actor="alice")
    assert _state(ctx) == "human_reviewed"


async def test_quit_during_run_asks_and_leaves_it_resumable(run_ctx, app_factory,
                                                            request_file, gate):
    _reviewed_request(run_ctx, request_file)
    app = app_factory(run_ctx)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3", "l")
        await wait_until(pilot, lambda: gate and gate[-1].reached.is_set())
        # the Runs screen with a run in progress, masked: its progress and none of the
        # request's private values or its subject's name
        await wait_until(pilot, lambda: "step 1/" in screen_text(app), timeout=60)
        shown = screen_text(app)
        assert "Run RUN-" in shown and "train" in shown, shown
        private = ("Lena", "Fictive", "lena.fictive@example.org", "+1-555-010-0100")
        assert [v for v in private if v in shown] == []
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")  # changed our mind: the run goes on
        await pilot.pause()
        assert app.return_code is None and app.live.running
        await pilot.press("q")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        gate[-1].release()  # the worker sees the cancel at its next step
        await wait_until(pilot, lambda: app.return_code is not None, timeout=120)
    (run,) = _runs(run_ctx)
    assert run.state in runs.RESUMABLE and run.finished_at is None
    assert _state(run_ctx) == "human_reviewed"  # nothing was decided for the request

    # a later session picks the run up again from the Runs screen
    again = app_factory(run_ctx)
    async with again.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await pilot.pause()
        await pilot.press("u")
        await wait_until(pilot, lambda: len(gate) == 2 and gate[-1].reached.is_set())
        await pilot.pause()
        assert again.live.run_id == run.id
        assert _runs(run_ctx)[0].state == "running"
        await pilot.press("c")  # cancel: stops at the next step, stays resumable
        await pilot.pause()
        gate[-1].release()
        await wait_until(pilot, lambda: again.live.outcome is not None, timeout=120)
        assert again.live.outcome == "stopped"
    assert _runs(run_ctx)[0].state in runs.RESUMABLE
