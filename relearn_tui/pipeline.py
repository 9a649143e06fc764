"""The workflow's steps in their one order, for both front ends: augment a batch, approve it
under the standing policy, pick the run to execute (an unfinished one to resume, else a new
one), execute it (which files its reports and purges what it verified).

No interface here: ``headless`` renders these steps with rich, the TUI calls the same
functions in its worker threads, so both resume the same run and sequence the same way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import select

from engine.progress import CancelToken, Progress, ProgressFn, ignore_progress
from relearn_tui import review, runs, workflow
from relearn_tui.augmenting import augment_request
from relearn_tui.store.models import Request, Run


def states(ctx, request_ids: Sequence[str]) -> dict[str, str]:
    """Each known request's state, oldest request first (the order a run takes them in)."""
    with ctx.store.read() as s:
        rows = s.exec(select(Request).where(Request.id.in_(list(request_ids)))
                      .order_by(Request.received_at, Request.id)).all()
    return {r.id: r.state for r in rows}


def to_augment(ctx, request_ids: Sequence[str]) -> list[str]:
    """The requests of a batch that were never augmented."""
    return [rid for rid, st in states(ctx, request_ids).items() if st == workflow.SUBMITTED]


def augment_batch(ctx, request_ids: Sequence[str], *, progress: ProgressFn = ignore_progress,
                  cancel: CancelToken | None = None,
                  each: Callable[[str, dict[str, Any]], None] | None = None,
                  ) -> list[tuple[str, dict[str, Any]]]:
    """Augment the requests one after the other; returns each one's summary.

    Progress is one ``augment`` stage counting requests, its message naming the request (the
    engine's per-fact events are relayed as that request's, so a display stays live);
    ``each`` is called after every request (a request done stays done
    when a later one fails or the batch is cancelled)."""
    ids = list(request_ids)
    out: list[tuple[str, dict[str, Any]]] = []
    for i, rid in enumerate(ids):
        if cancel is not None:
            cancel.raise_if_cancelled()

        def relay(p: Progress, i: int = i, rid: str = rid) -> None:
            progress(dataclasses.replace(p, stage="augment", done=i, total=len(ids),
                                         message=rid))

        progress(Progress("augment", i, len(ids), rid))
        summary = augment_request(ctx, rid, progress=relay, cancel=cancel)
        out.append((rid, summary))
        progress(Progress("augment", i + 1, len(ids), rid))
        if each is not None:
            each(rid, summary)
    return out


def approve_by_policy(ctx, request_ids: Sequence[str]) -> int:
    """``--auto-approve``: every pending unflagged variant of the batch, recorded per request
    as one policy-approval event by the operator; returns how many were approved."""
    return sum(review.policy_approve(ctx.store, rid, actor=ctx.operator)
               for rid in request_ids)


@dataclass(frozen=True)
class ReviewWait:
    """Requests of a batch still waiting for the operator's review."""

    request_ids: tuple[str, ...]
    pending_variants: int
    # facts with no private value and no recorded reason (fact numbers per request): no
    # approval moves these requests on until a reviewer marks a value or records why
    without_values: dict[str, list[int]] = field(default_factory=dict)


def waiting_for_review(ctx, request_ids: Sequence[str]) -> ReviewWait:
    stuck = tuple(rid for rid, st in states(ctx, request_ids).items()
                  if st == workflow.AUGMENTED)
    with ctx.store.read() as s:
        pending = review.pending_count(s, list(stuck)) if stuck else 0
        without = {rid: n for rid in stuck if (n := review.facts_without_values(s, rid))}
    return ReviewWait(stuck, pending, without)


@dataclass(frozen=True)
class RunChoice:
    run_id: str
    resumed: bool  # an unfinished run over these requests, which keeps its own settings


def run_to_execute(ctx, request_ids: Sequence[str],
                   settings: runs.RunSettings | None = None) -> RunChoice | None:
    """The run a batch continues with: the oldest unfinished run over any of its requests
    (resumed with the settings it was created with), else a new run over every one of them
    in ``human_reviewed``; None when there is nothing to train."""
    wanted = set(request_ids)
    for r in runs.unfinished_runs(ctx):
        if wanted & set(r.request_ids or []):
            return RunChoice(r.id, resumed=True)
    ready = [rid for rid, st in states(ctx, request_ids).items()
             if st == workflow.HUMAN_REVIEWED]
    if not ready:
        return None
    return RunChoice(runs.create_run(ctx, ready, settings), resumed=False)


def execute(ctx, run_id: str, *, progress: ProgressFn = ignore_progress,
            cancel: CancelToken | None = None) -> Run:
    """Run (or resume) every stage of a run, then file its reports and purge the requests it
    verified; returns the finished run row."""
    return runs.execute_run(ctx, run_id, progress=progress, cancel=cancel)


def run_timings(ctx, run_id: str) -> dict[str, float]:
    """The step times a run recorded (subject, audits, training)."""
    with ctx.store.read() as s:
        run = s.get(Run, run_id)
        record = (run.record or {}).get("timings", {}) if run is not None else {}
    return {k: v for k, v in record.items() if isinstance(v, int | float)}


def run_evidence(ctx, run_id: str) -> list[str]:
    """What a run's figures were computed on, one line each: the hardware with its bf16
    decision, where the before-audit came from, and the quantisation re-check's backend per
    precision with its self-check."""
    from relearn_tui.reports.markdown import audit_before_line, hardware_line, quant_line
    from relearn_tui.store.models import AuditResult

    with ctx.store.read() as s:
        run = s.get(Run, run_id)
        record = (run.record or {}) if run is not None else {}
        after = s.exec(select(AuditResult).where(
            AuditResult.run_id == run_id, AuditResult.request_id == None,  # noqa: E711
            AuditResult.phase == "after")).first()
    lines = [hardware_line(record.get("hardware") or {}),
             audit_before_line(record.get("audit_before_from"))]
    quant = quant_line(after.figures or {}) if after is not None else ""
    return lines + ([quant] if quant else [])
