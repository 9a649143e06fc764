"""The Markdown rendering of a report."""

from __future__ import annotations

from typing import Any

from relearn_tui.reports.figures import fmt, headline_rows, ls_components


def _metrics(lines: list[str], audit: dict[str, Any], thresholds: dict[str, Any]) -> None:
    rows = headline_rows(audit, thresholds)
    if not rows:
        lines.append("_No audit figures yet._\n")
        return
    lines += ["| figure | before | after | threshold |", "|---|---|---|---|"]
    lines += [f"| {r['label']} | {fmt(r['before'])} | {fmt(r['after'])} | {r['rule']} |"
              for r in rows]
    comps = {p: ls_components(audit.get(p) or {}) for p in ("before", "after")}
    if any(comps.values()):
        lines.append("")
        lines.append("LS components: " + "; ".join(
            f"{p}: " + ", ".join(f"{k} {fmt(v)}" for k, v in c.items())
            for p, c in comps.items() if c))
    if "passed" in audit:
        verdict = "PASS" if audit["passed"] else "FAIL"
        reasons = "; ".join(audit.get("reasons") or [])
        lines.append(f"\nVerdict: **{verdict}**" + (f" ({reasons})" if reasons else ""))
    nli = (audit.get("after") or {}).get("nli_used")
    if nli is False:
        lines.append("\nNLI was not used: forgetting and retention were judged by the entity "
                     "rule alone.")
    quant = quant_line(audit.get("after") or audit.get("before") or {})
    if quant:
        lines.append("\n" + quant)
    lines.append("")


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


def _run_block(lines: list[str], run: dict[str, Any]) -> None:
    m = run["models"]
    lines += [f"### Run {run['id']} ({run['method']}, {run['state']})", "",
              f"- operator: {run.get('operator') or '-'}",
              f"- started {run.get('started_at') or '-'}, finished {run.get('finished_at') or '-'}",
              f"- base model: {m.get('base')} `{m.get('base_sha256') or '-'}`",
              f"- deployed (subject) model: `{m.get('subject_sha256') or '-'}`",
              f"- adapter: `{m.get('adapter_sha256') or '-'}`",
              f"- merged model: `{m.get('merged_sha256') or '-'}`",
              "- config: " + ", ".join(f"{k}={v}" for k, v in sorted(run['config'].items())),
              "- " + hardware_line(run.get("hardware") or {}),
              ""]
    if run.get("error"):
        lines += [f"Run error: {run['error']}", ""]


def render(report: dict[str, Any]) -> str:
    if report["schema"].startswith("relearn-tui/run-report"):
        return render_run(report)
    r = report["request"]
    lines = [f"# Erasure report: {r['id']}", "",
             f"Generated {report['generated_at']} by relearn-tui. This report holds no "
             "personal data: the data subject appears as a keyed pseudonym, facts as "
             "categories with salted hashes.", "",
             "## Request", "",
             f"- subject (pseudonym): `{r['subject_pseudonym']}`",
             f"- legal ground: {r.get('ground') or '-'}",
             f"- state: **{r['state']}**",
             f"- received: {r['received_at']}",
             f"- deadline: {r['deadline']}" + (f" (extended by {r['extension_months']} month(s))"
                                               if r["extension_months"] else ""),
             f"- closed: {r.get('closed_at') or '-'}; deadline met: "
             + {True: "yes", False: "**no**", None: "not yet closed"}[r.get("deadline_met")],
             f"- personal data purged: {r.get('purged_at') or 'not yet'}", "",
             "## Facts forgotten", "", "| # | category | value hashes |", "|---|---|---|"]
    for f in report["facts"]:
        hashes = ", ".join(f"{v['category']}: `{v['hash'][:16]}…`" for v in f["values"]) or "-"
        lines.append(f"| {f['position'] + 1} | {f.get('category') or '-'} | {hashes} |")
    lines += ["", "## Unlearning runs and audit", ""]
    if not report["runs"]:
        lines += ["_No run yet._", ""]
    for run in report["runs"]:
        _run_block(lines, run)
        _metrics(lines, run["audit"], run.get("thresholds", {}))
    lines += ["## Timeline", "", "| at (UTC) | actor | action | state | event hash |",
              "|---|---|---|---|---|"]
    for e in report["timeline"]:
        state = e["to"] if e["from"] == e["to"] else f"{e['from'] or '-'} → {e['to']}"
        lines.append(f"| {e['at'][:19]} | {e['actor']} | {e['action']} | {state} | "
                     f"`{e['hash'][:12]}` |")
    lines += ["", "## Event log", "",
              f"Event-log head at export: `{report['event_log']['head_hash']}`. "
              "`relearn-tui log verify` recomputes every link of the chain.", ""]
    return "\n".join(lines)


def render_run(report: dict[str, Any]) -> str:
    run = report["run"]
    lines = [f"# Unlearning run report: {run['id']}", "",
             f"Generated {report['generated_at']} by relearn-tui; no personal data.", ""]
    _run_block(lines, run)
    lines += ["## Whole run", ""]
    _metrics(lines, report["audit"], run.get("thresholds", {}))
    lines += ["## Requests", ""]
    for r in report["requests"]:
        lines += [f"### {r['id']} (subject `{r['subject_pseudonym']}`, {r['state']})", ""]
        _metrics(lines, r["audit"], run.get("thresholds", {}))
    t = run.get("timings") or {}
    if t:
        lines += ["## Timings", "", ", ".join(f"{k}: {v}" for k, v in t.items()), ""]
    lines += [f"Event-log head at export: `{report['event_log']['head_hash']}`", ""]
    return "\n".join(lines)
