"""The workflow's steps as both front ends call them (relearn_tui.pipeline)."""

from __future__ import annotations

import pytest

from engine.progress import Cancelled, CancelToken
from relearn_tui import pipeline, workflow
from relearn_tui.importer import import_paths
from tests.app.conftest import SAMPLE


def _import(ctx) -> list[str]:
    files = [SAMPLE / "DSR-2026-0041.json", SAMPLE / "DSR-2026-0042.json"]
    return import_paths(ctx.store, files, secret=ctx.secret, actor="alice").created


def test_a_batch_is_augmented_with_one_stage_of_progress_then_approved_by_policy(ctx):
    ids = _import(ctx)
    events, done = [], []
    pipeline.augment_batch(ctx, pipeline.to_augment(ctx, ids), progress=events.append,
                           each=lambda rid, summary: done.append((rid, summary["items"] > 0)))
    assert done == [(rid, True) for rid in ids]
    assert {e.stage for e in events} == {"augment"} and {e.total for e in events} == {2}
    assert (events[-1].done, events[-1].message) == (2, ids[-1])
    assert pipeline.to_augment(ctx, ids) == []
    wait = pipeline.waiting_for_review(ctx, ids)
    assert wait.request_ids == tuple(ids) and wait.pending_variants > 0
    assert pipeline.approve_by_policy(ctx, ids) > 0
    assert set(pipeline.states(ctx, ids).values()) == {workflow.HUMAN_REVIEWED}
    assert pipeline.waiting_for_review(ctx, ids) == pipeline.ReviewWait((), 0)


def test_a_cancelled_batch_stops_before_the_next_request(ctx):
    ids = _import(ctx)
    token = CancelToken()
    pipeline.augment_batch(ctx, ids[:1], each=lambda *_: token.cancel())
    with pytest.raises(Cancelled):
        pipeline.augment_batch(ctx, ids[1:], cancel=token)
    assert pipeline.states(ctx, ids) == {ids[0]: workflow.AUGMENTED,
                                         ids[1]: workflow.SUBMITTED}
    assert pipeline.run_to_execute(ctx, ids) is None  # nothing reviewed: nothing to train
