"""Compliance reports: content, formats, the private-value guard (issue 5)."""

from __future__ import annotations

import json
import re

import pytest
from sqlmodel import select

from engine.pii import contains_value
from relearn_tui import review, workflow
from relearn_tui.augmenting import augment_request
from relearn_tui.cli import main
from relearn_tui.importer import import_paths
from relearn_tui.purge import PurgeError, purge_request
from relearn_tui.reports import ReportError, export_request_report, request_report, run_report
from relearn_tui.store.models import AuditResult, Fact, Request, Run

BEFORE = {"kfr_heldout": 0.1, "kfr_original": 0.0, "krr": 0.95, "ls": 0.41, "ppl": 2.1,
          "brunet": 9.0, "honore": 800.0, "leak_rate": 0.8, "leak_rate_4bit": 0.7,
          "nli_used": False}
AFTER = {"kfr_heldout": 0.96, "kfr_original": 1.0, "krr": 0.93, "ls": 0.40, "ppl": 2.3,
         "brunet": 9.2, "honore": 790.0, "leak_rate": 0.0, "leak_rate_4bit": 0.0,
         "nli_used": False}
THRESHOLDS = {"kfr": 0.9, "krr": 0.9, "ls_ratio": 0.95, "leak_rate": 0.0,
              "leak_rate_4bit": 0.0, "kfr_extraction": 0.9, "leak_rate_extraction": 0.0}
BEFORE["families"] = {"original": {"n": 6, "kfr": 0.0, "leak_rate": 1.0},
                      "extraction": {"n": 20, "kfr": 0.2, "leak_rate": 0.9}}
AFTER["families"] = {"original": {"n": 6, "kfr": 1.0, "leak_rate": 0.0, "leak_rate_4bit": 0.0},
                     "extraction": {"n": 20, "kfr": 0.85, "leak_rate": 0.05,
                                    "leak_rate_4bit": 0.1,
                                    "styles": {"raw": {"n": 8, "leak_probes": 8, "leaked": 1,
                                                       "not_forgotten": 3}}}}
BEFORE.update(kfr_worst=0.0, leak_rate_worst=1.0, mia_auc=0.97)
AFTER.update(kfr_worst=0.85, leak_rate_worst=0.05, leak_rate_4bit_worst=0.1, mia_auc=0.55,
             stage_seconds={"core": 40.0, "extraction": 12.5}, relearn_recovery=0.25,
             relearn={"relearn_steps": 30, "half_recovered": 0.5, "half_control": 0.25,
                      "half_probes": 4})


@pytest.fixture
def verified(ctx, requests_dir):
    """DSR-2026-0041 taken to verified with hand-written audit figures (no model involved:
    this test is about the report, the audit has its own tests)."""
    import_paths(ctx.store, [requests_dir], secret=ctx.secret, actor="alice")
    augment_request(ctx, "DSR-2026-0041")
    review.policy_approve(ctx.store, "DSR-2026-0041", actor="alice")
    with ctx.store.session() as s:
        s.add(Run(id="RUN-TEST-1", method="relearn", state="completed",
                  request_ids=["DSR-2026-0041"], operator="alice", base_model="smollm2",
                  base_sha256="a" * 64, subject_sha256="b" * 64, adapter_sha256="c" * 64,
                  merged_sha256="d" * 64, created_at=workflow.utcnow(),
                  config={"train": {"method": "relearn", "lr": 1e-4, "seed": 0},
                          "thresholds": THRESHOLDS}))
        s.flush()
        for rid in ("DSR-2026-0041", None):
            s.add(AuditResult(run_id="RUN-TEST-1", request_id=rid, phase="before",
                              figures=BEFORE, created_at=workflow.utcnow()))
            s.add(AuditResult(run_id="RUN-TEST-1", request_id=rid, phase="after",
                              figures=AFTER, passed=True, reasons=[],
                              created_at=workflow.utcnow()))
        workflow.transition(s, "DSR-2026-0041", workflow.TRAINED, actor="system",
                            detail={"run": "RUN-TEST-1"})
        workflow.transition(s, "DSR-2026-0041", workflow.VERIFIED, actor="system",
                            detail={"run": "RUN-TEST-1", "reasons": []})
    return ctx


def _private(ctx, rid):
    with ctx.store.session() as s:
        req = s.get(Request, rid)
        facts = s.exec(select(Fact).where(Fact.request_id == rid)).all()
        return [req.subject_name, req.subject_reference] + [
            v["value"] for f in facts for v in f.private_values]


def test_html_report_is_self_contained_with_chart_and_figures(verified):
    ctx = verified
    private = _private(ctx, "DSR-2026-0041")
    path = export_request_report(ctx, "DSR-2026-0041", "html")
    html = path.read_text()
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert "<svg" in html and "KFR (held-out probes)" in html
    assert not re.search(r'(src|href)="(https?:)?//', html), "no external asset"
    with ctx.store.session() as s:
        pseudonym = s.get(Request, "DSR-2026-0041").subject_pseudonym
    assert pseudonym in html and "DSR-2026-0041" in html
    assert "0.960" in html and "&gt;= 0.9" in html  # after-figure and its threshold
    assert 'class="pass">PASS' in html
    assert "d" * 64 in html and "c" * 64 in html  # merged and adapter hashes
    assert "entity rule alone" in html  # NLI was not used, and the report says so
    assert "email address" in html  # facts as categories
    assert not any(contains_value(html, v) for v in private)


def test_json_and_markdown_reports(verified):
    ctx = verified
    data = request_report(ctx, "DSR-2026-0041")
    assert data["schema"] == "relearn-tui/request-report/v1"
    assert data["request"]["state"] == "verified" and data["request"]["deadline_met"] is True
    assert data["runs"][0]["audit"]["after"]["kfr_heldout"] == 0.96
    assert data["runs"][0]["models"]["merged_sha256"] == "d" * 64
    assert len(data["facts"]) == 6 and all(f["values"] for f in data["facts"])
    with ctx.store.session() as s:
        assert data["event_log"]["head_hash"] == workflow.head_hash(s)
    actions = [e["action"] for e in data["timeline"]]
    assert actions[0] == "submitted" and "policy_approval" in actions
    run = run_report(ctx, "RUN-TEST-1")
    assert run["schema"] == "relearn-tui/run-report/v1"
    assert run["requests"][0]["audit"]["passed"] is True
    md = export_request_report(ctx, "DSR-2026-0041", "md").read_text()
    assert "| KFR (held-out probes) | 0.100 | 0.960 | >= 0.9 |" in md
    # every probe family before and after, with its own bar; the worst case; membership
    assert ("| extraction | 20 | 0.200 | 0.850 | 0.900 | 0.050 | 0.100 | KFR >= 0.9, "
            "leak <= 0.0 |") in md
    assert "| original | 6 | 0.000 | 1.000 | 1.000 | 0.000 | 0.000 |  |" in md
    assert "| KFR (worst probe family) | 0.000 | 0.850 |  |" in md
    assert "| membership-inference AUC | 0.970 | 0.550 |  |" in md
    assert "after: core 40.0 s, extraction 12.5 s" in md
    assert "| relearning attack: recovery above control | - | 0.250 |" in md
    assert "extraction after, by kind: raw: 1 of 8 leaked, 3 of 8 not forgotten" in md
    assert ("Relearning attack (30 steps): half: 0.500 of 4 facts recovered (control 0.250)"
            in md)
    assert run["audit"]["after"]["families"]["extraction"]["leak_rate"] == 0.05


def test_report_cli_writes_and_prints(verified, capsys):
    assert main(["report", "DSR-2026-0041", "--format", "json", "--out", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["request"]["id"] == "DSR-2026-0041"
    assert main(["report", "RUN-TEST-1", "--format", "html"]) == 0
    assert capsys.readouterr().out.strip().endswith("RUN-TEST-1.html")
    assert main(["report", "DSR-NOPE", "--format", "md"]) == 2


def test_guard_refuses_a_report_that_would_leak(verified):
    ctx = verified
    with ctx.store.session() as s:
        row = s.exec(select(AuditResult).where(AuditResult.phase == "after",
                                               AuditResult.request_id == "DSR-2026-0041")).one()
        row.reasons = ["probe said isabella.marquez@example.org"]
        s.add(row)
    with pytest.raises(ReportError, match="private value"):
        request_report(ctx, "DSR-2026-0041")


def test_purge_needs_a_report_then_removes_personal_data(verified):
    ctx = verified
    with pytest.raises(PurgeError, match="report"):
        purge_request(ctx, "DSR-2026-0041", actor="alice")
    private = _private(ctx, "DSR-2026-0041")
    export_request_report(ctx, "DSR-2026-0041", "json")
    counts = purge_request(ctx, "DSR-2026-0041", actor="alice")
    assert counts["facts"] == 6
    with ctx.store.session() as s:
        req = s.get(Request, "DSR-2026-0041")
        assert req.subject_name is None and req.purged_at is not None
        assert all(f.question is None and f.value_hashes
                   for f in s.exec(select(Fact).where(Fact.request_id == req.id)).all())
        assert workflow.verify_chain(s).ok
    data = request_report(ctx, "DSR-2026-0041")
    assert data["request"]["purged_at"] and data["timeline"][-1]["action"] == "purged"
    raw = b"".join(p.read_bytes() for p in ctx.home.glob("relearn.db*"))
    for value in private:
        assert value.encode() not in raw


def test_purge_scrubs_the_runs_shared_records_that_quote_the_person(verified):
    """A retain answer is the model's text: about another customer it can still name the
    purged one (the tiny model answered "Amara Okafor's email" to a retain probe), and the
    run keeps those records for all its requests, not in the request's own row."""
    ctx = verified
    private = _private(ctx, "DSR-2026-0041")
    name, value = private[0], private[-1]
    quoting = {"group": "retain_subjects", "request_key": "", "verdict": "not retained",
               "question": "What do the account notes say about Lucia Ferreira?",
               "output": f"{name}'s account: {value.upper()}"}
    surname = name.split()[-1]
    by_surname = dict(quoting, output=f"Ms {surname} closed that account.")
    other = dict(quoting, output="Lucia Ferreira asked for a catalogue.", verdict="retained")
    with ctx.store.session() as s:
        row = s.exec(select(AuditResult).where(AuditResult.phase == "after",
                                               AuditResult.request_id.is_(None))).one()
        row.probe_records = [quoting, by_surname, other]
        s.add(row)
    export_request_report(ctx, "DSR-2026-0041", "json")
    counts = purge_request(ctx, "DSR-2026-0041", actor="alice")
    assert counts["shared_records_scrubbed"] == 2
    with ctx.store.session() as s:
        row = s.exec(select(AuditResult).where(AuditResult.phase == "after",
                                               AuditResult.request_id.is_(None))).one()
        assert row.probe_records == [dict(quoting, output="[purged]"),
                                     dict(by_surname, output="[purged]"), other]
    raw = b"".join(p.read_bytes() for p in ctx.home.glob("relearn.db*")).lower()
    assert name.lower().encode() not in raw and value.lower().encode() not in raw
    assert f"ms {surname.lower()} closed".encode() not in raw


def test_bar_groups_name_every_set_bar_once() -> None:
    """The thresholds line: each bar once, those of one figure and value grouped, unset bars
    (None, "off") left out; the Audit screen showed "leak rate 4-bit" twice and "AUC <= None"."""
    from engine.audit.config import Thresholds
    from relearn_tui.reports.figures import BARS, bar_groups

    defaults = Thresholds().to_dict()
    assert {key for key, *_ in BARS} == set(defaults)  # one entry per bar, none missing
    groups = bar_groups(defaults)
    assert groups[0] == "KFR >= 0.9 (held-out, independent, extraction)"
    assert "LS >= 0.95x before" in groups
    assert not any("None" in g or "AUC" in g for g in groups)  # mia_auc is unset by default
    leak = next(g for g in groups if g.startswith("leak"))
    assert leak.count("4-bit") == 2 and "worst family 4-bit" in leak
    gated = bar_groups({**defaults, "mia_auc": 0.6, "kfr_extraction": 0.8})
    assert "membership AUC <= 0.6" in gated and "KFR >= 0.8 (extraction)" in gated


def test_a_block_without_a_verdict_prints_none() -> None:
    """A run's whole-run block has no verdict (each request's is gated): the report printed
    "Verdict: **FAIL**" for it under a table where every figure met its bar."""
    from relearn_tui.reports.markdown import _metrics

    figures = {"kfr_heldout": 0.5, "kfr": 0.5, "krr": 1.0}
    after = {"kfr_heldout": 1.0, "kfr": 1.0, "krr": 0.97}
    for passed, line in ((None, None), (True, "Verdict: **PASS**"),
                         (False, "Verdict: **FAIL**")):
        lines: list[str] = []
        _metrics(lines, {"before": figures, "after": after, "passed": passed, "reasons": []},
                 {"kfr": 0.9, "krr": 0.9})
        verdicts = [x.strip() for x in lines if "Verdict" in x]
        assert verdicts == ([line] if line else []), verdicts
