"""The before-audit cache: a failed request tried again on the same deployed model, probes and
audit settings copies the first run's before-audit rows; anything else is a miss."""

from __future__ import annotations

import dataclasses
import json

from sqlmodel import select
from test_pipeline import FAST

from relearn_tui import audit_cache, pipeline, runs, workflow
from relearn_tui.cli import main
from relearn_tui.context import AppContext
from relearn_tui.reports.build import request_report
from relearn_tui.reports.markdown import render
from relearn_tui.store.models import AuditResult, Run

STRICT = FAST + "\n[thresholds]\nkfr = 1.0\nkrr = 1.0\n"
RID = "DSR-2026-0041"


def _before(ctx, run_id):
    with ctx.store.session() as s:
        rows = s.exec(select(AuditResult).where(AuditResult.run_id == run_id,
                                                AuditResult.phase == "before")).all()
        return {r.request_id: (r.figures, r.probe_records) for r in rows}


def test_a_retried_request_reuses_the_before_audit(home, tmp_path, requests_dir,
                                                   tiny_subject_dir, capsys, make_deployment):
    dep = make_deployment(tmp_path / "dep", model=tiny_subject_dir, extra=STRICT)
    args = ["--headless", "--auto-approve", "--json", "--deployment", str(dep),
            str(requests_dir / f"{RID}.json")]
    assert main(args) == 1
    assert json.loads(capsys.readouterr().out)["requests"][0]["state"] == "failed"
    ctx = AppContext.create(deployment=dep)
    with ctx.store.session() as s:
        first = s.exec(select(Run)).one()
        workflow.transition(s, RID, workflow.HUMAN_REVIEWED, actor="ops",
                            detail={"retry": first.id})
    assert main(args) == 1
    capsys.readouterr()
    with ctx.store.session() as s:
        second = s.exec(select(Run).where(Run.id != first.id)).one()
    assert second.record["audit_before_from"] == first.id
    assert _before(ctx, second.id) == _before(ctx, first.id)
    assert _before(ctx, first.id)[RID][1] is not None  # the request's records came along
    # the request's report says which run measured and which one reused
    text = render(request_report(ctx, RID))
    assert text.count("audit before: measured in this run") == 1
    assert f"audit before: reused from run {first.id}" in text
    assert pipeline.run_evidence(ctx, second.id)[1].startswith(
        f"audit before: reused from run {first.id}")

    # the index holds the key and a run id, nothing of the probes
    (entry,) = (home / "cache" / "audit-before").glob("*.json")
    assert json.loads(entry.read_text()) == {"run_id": first.id}

    # other audit settings, other probes, another model: each a different key
    run = runs.run_deployment(second)
    _, probes = runs.build_inputs(ctx, second)
    config = dataclasses.replace(run.audit, quant_bits=())
    key = audit_cache.audit_key(ctx, second, probes, config, second.base_sha256)
    assert key == entry.stem
    assert audit_cache.audit_key(ctx, second, probes, dataclasses.replace(config, leak_samples=3),
                                 second.base_sha256) != key
    assert audit_cache.audit_key(ctx, second, probes[1:], config, second.base_sha256) != key
    other = second.model_copy(update={"subject_sha256": "0" * 64})
    assert audit_cache.audit_key(ctx, other, probes, config, second.base_sha256) != key

    # once the first run's records are purged, a copy would lack them: refused
    with ctx.store.session() as s:
        for r in s.exec(select(AuditResult).where(AuditResult.run_id == first.id)).all():
            if r.request_id is not None:
                r.probe_records = None
                s.add(r)
    assert audit_cache.reuse(ctx, "RUN-x", key) is None
