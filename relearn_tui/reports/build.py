"""Assembling report data from the database, and writing it in each format.

Every rendered report is scanned for the request's private values before it is written: a
report that would leak is an error, never a file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import select

from engine.pii import contains_value
from relearn_tui import workflow
from relearn_tui.deadline import deadline
from relearn_tui.errors import OperatorError
from relearn_tui.freetext import request_private_values
from relearn_tui.store.models import AuditResult, Event, Fact, Request, Run
from relearn_tui.text import printable

REPORT_FORMATS = ("md", "html", "json")
REQUEST_SCHEMA = "relearn-tui/request-report/v1"
RUN_SCHEMA = "relearn-tui/run-report/v1"


class ReportError(OperatorError):
    pass


def _iso(at: datetime | None) -> str | None:
    if at is None:
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _timeline(session, request_id: str) -> list[dict[str, Any]]:
    events = session.exec(select(Event).where(Event.request_id == request_id)
                          .order_by(Event.id)).all()
    return [{"at": _iso(e.at), "actor": e.actor, "action": e.action, "from": e.from_state,
             "to": e.to_state, "detail": e.detail or {}, "hash": e.hash} for e in events]


def _audit_pair(session, run_id: str, request_id: str | None) -> dict[str, Any]:
    rows = session.exec(select(AuditResult).where(AuditResult.run_id == run_id,
                                                  AuditResult.request_id == request_id)).all()
    out: dict[str, Any] = {}
    for r in rows:
        out[r.phase] = r.figures or {}
        if r.phase == "after":
            out["passed"], out["reasons"] = r.passed, r.reasons or []
    return out


def _run_summary(run: Run) -> dict[str, Any]:
    record = run.record or {}
    return {
        "id": run.id, "method": run.method, "state": run.state, "operator": run.operator,
        "created_at": _iso(run.created_at), "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "config": (run.config or {}).get("train", {}),
        "thresholds": (run.config or {}).get("thresholds", {}),
        # what the audit asked and how: the run's own stored settings, as it executed them
        "audit_settings": (run.config or {}).get("audit", {}),
        "probe_settings": (run.config or {}).get("probes", {}),
        "models": {"base": run.base_model, "base_sha256": run.base_sha256,
                   "subject_sha256": run.subject_sha256, "adapter_sha256": run.adapter_sha256,
                   "merged_sha256": run.merged_sha256},
        "timings": record.get("timings", {}), "versions": record.get("versions", {}),
        "hardware": record.get("hardware", {}),
        # the before-audit's figures were taken from this earlier run (same model, probes
        # and settings) rather than measured again
        "audit_before_from": record.get("audit_before_from"),
        "seed": (run.config or {}).get("train", {}).get("seed"),
        "error": run.error,
    }


def request_report(ctx, request_id: str) -> dict[str, Any]:
    with ctx.store.read() as s:
        req = workflow.get_request(s, request_id)
        facts = s.exec(select(Fact).where(Fact.request_id == request_id)
                       .order_by(Fact.position)).all()
        timeline = _timeline(s, request_id)
        runs = [r for r in s.exec(select(Run).order_by(Run.created_at)).all()
                if request_id in (r.request_ids or [])]
        run_data = [{**_run_summary(r), "audit": _audit_pair(s, r.id, request_id)}
                    for r in runs]
        due = deadline(req.received_at, req.extension_months)
        closed = next((e for e in reversed(timeline) if e["to"] in workflow.TERMINAL
                       and e["from"] != e["to"]), None)
        closed_at = datetime.fromisoformat(closed["at"]) if closed else None
        report = {
            "schema": REQUEST_SCHEMA,
            "generated_at": _iso(datetime.now(UTC)),
            "request": {
                "id": req.id, "subject_pseudonym": req.subject_pseudonym, "ground": req.ground,
                "state": req.state, "received_at": _iso(req.received_at),
                "deadline": _iso(due), "extension_months": req.extension_months,
                "closed_at": closed["at"] if closed else None,
                "deadline_met": (closed_at <= due) if closed_at else None,
                "purged_at": _iso(req.purged_at),
            },
            "facts": [{"position": f.position, "category": f.category,
                       "values": f.value_hashes or []} for f in facts],
            "runs": run_data,
            "timeline": timeline,
            "event_log": {"head_hash": workflow.head_hash(s),
                          "request_last_hash": timeline[-1]["hash"] if timeline else None},
        }
        private = _private_values(s, [request_id])
    _guard(report, private, f"report of {request_id}")
    return report


def run_report(ctx, run_id: str) -> dict[str, Any]:
    with ctx.store.read() as s:
        run = s.get(Run, run_id)
        if run is None:
            raise ReportError(f"no run {run_id!r}")
        requests = []
        for rid in run.request_ids or []:
            req = s.get(Request, rid)
            audit = _audit_pair(s, run_id, rid)
            requests.append({"id": rid, "subject_pseudonym": req.subject_pseudonym if req else None,
                             "state": req.state if req else None, "audit": audit})
        report = {
            "schema": RUN_SCHEMA,
            "generated_at": _iso(datetime.now(UTC)),
            "run": _run_summary(run),
            "audit": _audit_pair(s, run_id, None),
            "requests": requests,
            "event_log": {"head_hash": workflow.head_hash(s)},
        }
        private = _private_values(s, run.request_ids or [])
    _guard(report, private, f"report of {run_id}")
    return report


def _private_values(session, request_ids: list[str]) -> list[str]:
    # the subject's name and reference too: a report names the subject only by pseudonym
    return [v for rid in request_ids for v in request_private_values(session, rid)]


def _guard(report: dict[str, Any], private: list[str], what: str) -> None:
    text = json.dumps(report, ensure_ascii=False)
    for value in private:
        if contains_value(text, value):
            raise ReportError(f"{what} would contain a private value; not written")


def render(report: dict[str, Any], fmt: str) -> str:
    from relearn_tui.reports import html, markdown

    if fmt == "json":
        return json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    if fmt == "md":
        return markdown.render(report)
    if fmt == "html":
        return html.render(report)
    raise ReportError(f"unknown report format {fmt!r}; formats: {', '.join(REPORT_FORMATS)}")


# How every report this program writes begins (see the renderers): a file that begins
# otherwise is not one of ours and is never overwritten.
_SIGNATURES = (
    b"# Erasure report: ", b"# Unlearning run report: ",
    b'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Erasure report ',
    b'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Unlearning run report ',
    b'{\n  "schema": "relearn-tui/',
)


def _is_our_report(path: Path) -> bool:
    with path.open("rb") as fh:
        head = fh.read(200)
    return head.startswith(_SIGNATURES)


def _check_target(path: Path, shown: str) -> bool:
    """Whether ``path`` exists (then it is a report written before), or a ReportError: a
    report never replaces a folder, a device, a link, the database, the secret or any other
    file that is not an earlier report."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    if stat.S_ISDIR(st.st_mode):
        raise ReportError(f"report file {shown}: is a folder; give the report's file name")
    if not stat.S_ISREG(st.st_mode):
        raise ReportError(f"report file {shown}: is not a regular file (a link, device or pipe); "
                          "a report is written only to a new file or over an earlier report")
    if not _is_our_report(path):
        raise ReportError(f"report file {shown}: the file exists and is not a relearn-tui report; "
                          "it is left as it is (give a new file name)")
    return True


def _write(path: Path, text: str) -> Path:
    """Write a report to a new file, or over a report written before (atomically, by rename);
    refuse anything else."""
    shown = printable(str(path))
    tmp: str | None = None
    try:
        exists = _check_target(path, shown)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not exists:
            # "x": a file that appeared since the check is not overwritten either
            with path.open("x", encoding="utf-8") as fh:
                fh.write(text)
            return path
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        # mkstemp makes it 0600; the new version keeps the earlier report's mode (a new report
        # takes the umask: it holds no personal data and is meant to be filed and shared)
        os.fchmod(fd, stat.S_IMODE(os.stat(path).st_mode))
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        _check_target(path, shown)  # still an earlier report, right before it is replaced
        os.replace(tmp, path)
        tmp = None
    except FileExistsError:
        raise ReportError(f"report file {shown}: a file appeared there while the report was "
                          "written; it is left as it is") from None
    except OSError as exc:
        raise ReportError(f"report file {shown}: cannot write the report: {exc.strerror}") from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return path


def export_request_report(ctx, request_id: str, fmt: str,
                          out: Path | None = None) -> Path:
    text = render(request_report(ctx, request_id), fmt)
    path = _write(out or ctx.home / "reports" / request_id / f"{request_id}.{fmt}", text)
    _log_export(ctx, request_id, fmt, text, custom=out is not None)
    return path


def export_run_report(ctx, run_id: str, fmt: str, out: Path | None = None) -> Path:
    text = render(run_report(ctx, run_id), fmt)
    return _write(out or ctx.home / "reports" / "runs" / f"{run_id}.{fmt}", text)


def _log_export(ctx, request_id: str, fmt: str, text: str, *, custom: bool) -> None:
    # the report by its content hash, not its file name: the operator may have named the file
    # after the person, and the event outlives the purge
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    with ctx.store.session() as s:
        workflow.record_event(s, request_id, actor=ctx.operator, action="report_exported",
                              detail={"format": fmt, "sha256": digest,
                                      "location": "--out" if custom else "reports folder"})
