"""The Markdown rendering of a report.

Every value from the database goes through :func:`esc`: an old row, an imported ground or a
run's error message must not add lines, table cells or emphasis to the report (a forged
"- state: **verified**" line), whatever was let through when it was stored.
"""

from __future__ import annotations

import re
from typing import Any

from relearn_tui.reports.figures import (
    family_rows,
    fmt,
    headline_rows,
    ls_components,
    relearn_line,
    stage_seconds,
)
from relearn_tui.text import printable

# what makes Markdown (and our HTML conversion of it) structure: emphasis, code, table cells,
# links, raw HTML, and the backslash itself
_MD_SPECIAL = re.compile(r"([\\`*_|<>\[\]#])")


def esc(value: Any) -> str:
    """A value as literal Markdown text on one line."""
    return _MD_SPECIAL.sub(r"\\\1", printable(fmt(value) if not isinstance(value, str)
                                               else value))


def code(value: Any) -> str:
    """A value (a hash, a pseudonym) as a code span: inside one a backslash escapes nothing,
    so what would end the span or a table cell is replaced instead."""
    return "`" + re.sub(r"[\\`|]", "?", printable(fmt(value))) + "`"


def _metrics(lines: list[str], audit: dict[str, Any], thresholds: dict[str, Any]) -> None:
    rows = headline_rows(audit, thresholds)
    if not rows:
        lines.append("_No audit figures yet._\n")
        return
    lines += ["| figure | before | after | threshold |", "|---|---|---|---|"]
    lines += [f"| {r['label']} | {fmt(r['before'])} | {fmt(r['after'])} | {r['rule']} |"
              for r in rows]
    _families(lines, audit, thresholds)
    comps = {p: ls_components(audit.get(p) or {}) for p in ("before", "after")}
    if any(comps.values()):
        lines.append("")
        lines.append("LS components: " + "; ".join(
            f"{p}: " + ", ".join(f"{k} {fmt(v)}" for k, v in c.items())
            for p, c in comps.items() if c))
    if audit.get("passed") is not None:
        # a run's whole-run block has no verdict of its own (each request's is gated): no
        # line, rather than a FAIL that no figure earned
        verdict = "PASS" if audit["passed"] else "FAIL"
        reasons = "; ".join(esc(r) for r in audit.get("reasons") or [])
        lines.append(f"\nVerdict: **{verdict}**" + (f" ({reasons})" if reasons else ""))
    nli = (audit.get("after") or {}).get("nli_used")
    if nli is False:
        lines.append("\nNLI was not used: forgetting and retention were judged by the entity "
                     "rule alone.")
    quant = quant_line(audit.get("after") or audit.get("before") or {})
    if quant:
        lines.append("\n" + esc(quant))
    lines.append("")


def _families(lines: list[str], audit: dict[str, Any], thresholds: dict[str, Any]) -> None:
    """Every probe family's figures (docs/metrics.md#probe-families), and what each audit
    stage cost."""
    rows = family_rows(audit, thresholds)
    if not rows:
        return
    lines += ["", "Probe families:", "",
              "| family | probes | KFR before | KFR after | leak before | leak after "
              "| leak 4-bit after | threshold |", "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {esc(r['family'])} | {fmt(r['n'])} | {fmt(r['kfr_before'])} | "
              f"{fmt(r['kfr_after'])} | {fmt(r['leak_before'])} | {fmt(r['leak_after'])} | "
              f"{fmt(r['leak_4bit_after'])} | {r['rule']} |" for r in rows]
    for family, f in ((audit.get("after") or {}).get("families") or {}).items():
        styles = f.get("styles") or {}
        if styles:
            lines += ["", esc(f"{family} after, by kind: " + "; ".join(
                f"{st}: {c.get('leaked', 0)} of {c.get('leak_probes', 0)} leaked, "
                f"{c.get('not_forgotten', 0)} of {c.get('n', 0)} not forgotten"
                for st, c in styles.items()))]
    attack = relearn_line(audit.get("after") or {})
    if attack:
        lines += ["", esc(attack)]
    timed = [(p, stage_seconds(audit.get(p) or {})) for p in ("before", "after")]
    timed = [(p, t) for p, t in timed if t]
    if timed:
        lines += ["", "Audit time per stage: " + "; ".join(f"{p}: {esc(t)}" for p, t in timed)]


def quant_line(figures: dict[str, Any]) -> str:
    """Which backend each re-check precision used, and its self-check against the format."""
    backends = figures.get("quant_backends") or {}
    checks = figures.get("quant_checks") or {}
    if not backends:
        return ""
    return "Quantisation re-check: " + "; ".join(
        f"{prec}: {name} ({checks.get(prec) or 'no self-check recorded'})"
        for prec, name in backends.items())


def hardware_line(hw: dict[str, Any]) -> str:
    if not hw:
        return "hardware: not recorded"
    features = ", ".join(hw.get("cpu_features") or []) or "none of avx2/avx512"
    where = hw.get("gpu") or f"{hw.get('cpu', 'cpu')} ({hw.get('cpu_capability')}; {features})"
    bf16 = "on" if hw.get("bf16_autocast") else "off"
    return f"hardware: {hw.get('device')}, {where}; bf16 autocast {bf16} " \
           f"({hw.get('bf16_decided_by') or 'unrecorded'})"


def audit_before_line(reused_from: str | None) -> str:
    if not reused_from:
        return "audit before: measured in this run"
    return (f"audit before: reused from run {reused_from} (same deployed model, probes and "
            "audit settings), not measured again")


def _run_block(lines: list[str], run: dict[str, Any]) -> None:
    m = run["models"]
    lines += [f"### Run {esc(run['id'])} ({esc(run['method'])}, {esc(run['state'])})", "",
              f"- operator: {esc(run.get('operator'))}",
              f"- started {esc(run.get('started_at'))}, finished {esc(run.get('finished_at'))}",
              f"- base model: {esc(m.get('base'))} {code(m.get('base_sha256'))}",
              f"- deployed (subject) model: {code(m.get('subject_sha256'))}",
              f"- adapter: {code(m.get('adapter_sha256'))}",
              f"- merged model: {code(m.get('merged_sha256'))}",
              "- config: " + ", ".join(f"{esc(k)}={esc(v)}"
                                       for k, v in sorted(run['config'].items())),
              "- " + esc(hardware_line(run.get("hardware") or {})),
              "- " + esc(audit_before_line(run.get("audit_before_from"))),
              ""]
    if run.get("error"):
        lines += [f"Run error: {esc(run['error'])}", ""]


def render(report: dict[str, Any]) -> str:
    if report["schema"].startswith("relearn-tui/run-report"):
        return render_run(report)
    r = report["request"]
    lines = [f"# Erasure report: {esc(r['id'])}", "",
             f"Generated {report['generated_at']} by relearn-tui. This report holds no "
             "personal data: the data subject appears as a keyed pseudonym, facts as "
             "categories with salted hashes.", "",
             "## Request", "",
             f"- subject (pseudonym): {code(r['subject_pseudonym'])}",
             f"- legal ground: {esc(r.get('ground'))}",
             f"- state: **{esc(r['state'])}**",
             f"- received: {esc(r['received_at'])}",
             f"- deadline: {esc(r['deadline'])}"
             + (f" (extended by {esc(r['extension_months'])} month(s))"
                if r["extension_months"] else ""),
             f"- closed: {esc(r.get('closed_at'))}; deadline met: "
             + {True: "yes", False: "**no**", None: "not yet closed"}[r.get("deadline_met")],
             f"- personal data purged: {esc(r.get('purged_at') or 'not yet')}", "",
             "## Facts forgotten", "", "| # | category | value hashes |", "|---|---|---|"]
    for f in report["facts"]:
        hashes = ", ".join(f"{esc(v['category'])}: {code(str(v['hash'])[:16] + '…')}"
                           for v in f["values"]) or "-"
        lines.append(f"| {esc(f['position'] + 1)} | {esc(f.get('category'))} | {hashes} |")
    lines += ["", "## Unlearning runs and audit", ""]
    if not report["runs"]:
        lines += ["_No run yet._", ""]
    for run in report["runs"]:
        _run_block(lines, run)
        _metrics(lines, run["audit"], run.get("thresholds", {}))
    lines += ["## Timeline", "", "| at (UTC) | actor | action | state | event hash |",
              "|---|---|---|---|---|"]
    for e in report["timeline"]:
        state = esc(e["to"]) if e["from"] == e["to"] else f"{esc(e['from'])} → {esc(e['to'])}"
        lines.append(f"| {esc(str(e['at'])[:19])} | {esc(e['actor'])} | {esc(e['action'])} | "
                     f"{state} | {code(str(e['hash'])[:12])} |")
    lines += ["", "## Event log", "",
              f"Event-log head at export: {code(report['event_log']['head_hash'])}. "
              "`relearn-tui log verify` recomputes every link of the chain.", ""]
    return "\n".join(lines)


def render_run(report: dict[str, Any]) -> str:
    run = report["run"]
    lines = [f"# Unlearning run report: {esc(run['id'])}", "",
             f"Generated {report['generated_at']} by relearn-tui; no personal data.", ""]
    _run_block(lines, run)
    lines += ["## Whole run", ""]
    _metrics(lines, report["audit"], run.get("thresholds", {}))
    lines += ["## Requests", ""]
    for r in report["requests"]:
        lines += [f"### {esc(r['id'])} (subject {code(r['subject_pseudonym'])}, "
                  f"{esc(r['state'])})", ""]
        _metrics(lines, r["audit"], run.get("thresholds", {}))
    t = run.get("timings") or {}
    if t:
        lines += ["## Timings", "", ", ".join(f"{esc(k)}: {esc(v)}" for k, v in t.items()), ""]
    lines += [f"Event-log head at export: {code(report['event_log']['head_hash'])}", ""]
    return "\n".join(lines)
