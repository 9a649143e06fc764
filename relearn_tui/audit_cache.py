"""Reuse of a "before" audit: the same deployed model asked the same probes with the same audit
settings gives the same figures, so a run whose before-audit was already computed by an
earlier run (a failed request tried again with other training settings, the same batch run
twice) copies that run's stored rows instead of spending minutes computing them again.

The key is an HMAC (the deployment's secret) of the audit's version, the deployed model's and
the perplexity reference's sha256, the audit settings and every probe (questions, truths,
private values, request keys): any change to one of them is a miss. The index file under
``<home>/cache/audit-before/`` holds only the key and the earlier run's id, never a probe or an
answer; the figures stay in the database rows they were stored in. A hit is refused when an
earlier row's probe records were purged (its request verified and erased): the copy would lack
evidence the original had.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import os
from collections.abc import Sequence
from pathlib import Path

from sqlmodel import select

from engine.audit import AUDIT_VERSION
from engine.audit.config import AuditConfig
from engine.types import Probe
from relearn_tui import workflow
from relearn_tui.store.models import AuditResult, Run

PHASE = "before"


def _folder(ctx) -> Path:
    return ctx.home / "cache" / "audit-before"


def audit_key(ctx, run: Run, probes: Sequence[Probe], config: AuditConfig,
              reference_sha256: str | None) -> str | None:
    """The cache key of ``run``'s before-audit; None when the model's hash is not known."""
    if not run.subject_sha256:
        return None
    payload = json.dumps([AUDIT_VERSION, run.subject_sha256, reference_sha256, config.to_dict(),
                          [dataclasses.asdict(p) for p in probes]], sort_keys=True, default=str)
    return hmac.new(ctx.secret, payload.encode(), hashlib.sha256).hexdigest()


def reuse(ctx, run_id: str, key: str | None) -> str | None:
    """Copy the before-audit rows of the run recorded under ``key`` to ``run_id``; returns that
    run's id, or None (no entry, the run or its rows gone, or their records purged)."""
    if key is None:
        return None
    entry = _folder(ctx) / f"{key}.json"
    try:
        source = json.loads(entry.read_text())["run_id"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if source == run_id:
        return None
    with ctx.store.session() as s:
        rows = s.exec(select(AuditResult).where(AuditResult.run_id == source,
                                                AuditResult.phase == PHASE)).all()
        if not rows or s.get(Run, source) is None:
            return None
        if any(r.request_id is not None and r.probe_records is None for r in rows):
            return None
        for r in rows:
            s.add(AuditResult(run_id=run_id, request_id=r.request_id, phase=PHASE,
                              figures=r.figures, probe_records=r.probe_records,
                              created_at=workflow.utcnow()))
    return source


def remember(ctx, key: str | None, run_id: str) -> None:
    """Record that ``run_id``'s stored before-audit answers ``key`` (written atomically)."""
    if key is None:
        return
    folder = _folder(ctx)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{key}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps({"run_id": run_id}))
    os.replace(tmp, folder / f"{key}.json")
