"""The batch runner behind ``relearn-tui --headless``: rich progress, never Textual.

Steps: import -> (augment) -> (approve under policy) -> (one unlearning run: deployed model,
audit before, train, audit after, verify) -> reports and purge. Each step stores its result,
so the same command run again after Ctrl-C continues where it stopped.

Exit codes: 0 everything went through, 1 some request failed verification or its run failed,
2 usage or input error (nothing was changed), 3 the database, the run (executing in another
process) or the augmentation server cannot be used right now (requests unchanged, finished work
kept; run the same command again), 130 interrupted (resumable).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from sqlmodel import select

from engine.progress import Progress as EngineProgress
from relearn_tui import workflow
from relearn_tui.augmenting import AugmentationSetupError, AugmentationStopped
from relearn_tui.context import AppContext
from relearn_tui.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, exit_code_for
from relearn_tui.importer import RequestFileError, import_paths
from relearn_tui.views import RequestRow, request_rows

LOG_WIDTH = 150  # columns when the output is a file or a pipe


@dataclass
class Options:
    paths: Sequence[str]
    subject: str | None = None
    as_json: bool = False
    augment: bool = False
    dry_run: bool = False
    run: bool = False
    auto_approve: bool = False
    timings: dict[str, float] = field(default_factory=dict)


def requests_table(rows: Sequence[RequestRow], title: str = "Requests",
                   figures: dict[str, dict] | None = None) -> Table:
    table = Table(title=title)
    columns = ["request", "subject", "state", "facts", "days left"]
    if figures:
        columns += ["KFR held-out", "KRR", "LS", "leak", "leak 4-bit"]
    for col in columns:
        table.add_column(col, justify="left" if col in ("request", "subject", "state")
                         else "right")
    for r in rows:
        style = "red" if r.days_left < 0 else "yellow" if r.days_left < 7 else ""
        cells = [r.request_id, r.subject, r.state, str(r.facts),
                 f"[{style}]{r.days_left}[/]" if style else str(r.days_left)]
        if figures:
            f = figures.get(r.request_id, {})
            cells += [_ba(f, "kfr_heldout"), _ba(f, "krr"), _ba(f, "ls"), _ba(f, "leak_rate"),
                      _ba(f, "leak_rate_4bit")]
        table.add_row(*cells)
    return table


def families_table(rows: Sequence[RequestRow], figures: dict[str, dict]) -> Table:
    """Every request's probe families (engine.audit.families), the worst case and membership
    inference, before → after."""
    from engine.audit.families import FAMILIES

    table = Table(title="Probe families")
    for col in ("request", "family", "probes", "KFR", "leak", "leak 4-bit"):
        table.add_column(col, justify="left" if col in ("request", "family") else "right")
    for r in rows:
        f = figures.get(r.request_id, {})
        fams = {p: (f.get(p) or {}).get("families") or {} for p in ("before", "after")}
        for family in FAMILIES:
            if family not in fams["before"] and family not in fams["after"]:
                continue
            pair = {"before": fams["before"].get(family) or {},
                    "after": fams["after"].get(family) or {}}
            n = pair["after"].get("n", pair["before"].get("n"))
            table.add_row(r.request_id, family, str(n), _ba(pair, "kfr"),
                          _ba(pair, "leak_rate"), _ba(pair, "leak_rate_4bit"))
        worst = {"before": f.get("before") or {}, "after": f.get("after") or {}}
        if any(worst[p].get("kfr_worst") is not None for p in worst):
            table.add_row(r.request_id, "worst", "", _ba(worst, "kfr_worst"),
                          _ba(worst, "leak_rate_worst"), _ba(worst, "leak_rate_4bit_worst"))
        if worst["after"].get("relearn_recovery") is not None:
            table.add_row(r.request_id, "relearning attack", "",
                          _ba(worst, "relearn_recovery"), "", "")
        if any(worst[p].get("mia_auc") is not None for p in worst):
            table.add_row(r.request_id, "membership AUC", str(worst["after"].get(
                "mia_pairs") or worst["before"].get("mia_pairs") or ""),
                _ba(worst, "mia_auc"), "", "")
    return table


def _ba(f: dict, key: str) -> str:
    before, after = (f.get("before") or {}).get(key), (f.get("after") or {}).get(key)
    if before is None and after is None:
        return "-"
    show = (lambda v: "-" if v is None else f"{v:.2f}")  # noqa: E731
    return f"{show(before)} → {show(after)}"


class ProgressView:
    """Turns engine Progress events into rich bars, one per stage.

    When the console is not a terminal (a batch job's log file, CI) rich draws no live bars, so
    the view prints a plain line instead when a stage starts, when an epoch ends and when a
    stage completes: a long run's log then still says where it is."""

    def __init__(self, bars: Progress, lines: bool | None = None) -> None:
        self.bars = bars
        self.tasks: dict[str, int] = {}
        self.lines = not bars.console.is_terminal if lines is None else lines
        # per step: (epoch last printed, whether its end was printed, when it started)
        self._steps: dict[str, tuple[int, bool, float]] = {}

    def __call__(self, p: EngineProgress) -> None:
        task = self.tasks.get(p.stage)
        if task is None:
            task = self.bars.add_task(p.stage, total=p.total or None, info="")
            self.tasks[p.stage] = task
        info = p.message
        if p.losses:
            info = " ".join(f"{k} {v:.3f}" for k, v in p.losses.items())
        if p.tokens_per_s:
            info += f" {p.tokens_per_s:,.0f} tok/s"
        if p.epochs:
            info = f"epoch {p.epoch}/{p.epochs} {info}"
        self.bars.update(task, completed=p.done, total=p.total or None, info=info)
        if self.lines:
            self._line(p, info)

    def _line(self, p: EngineProgress, info: str) -> None:
        # one stage may go through several steps (an audit: answers, leak probes, perplexity),
        # each with its own total and message: each step gets its start and end line
        key = f"{p.stage}\0{p.message if not p.epochs else ''}\0{p.total}"
        finished = bool(p.total) and p.done >= p.total
        said = self._steps.get(key)
        started = time.perf_counter() if said is None else said[2]
        if said is not None and (said[:2] == (p.epoch, finished) or (said[1] and finished)):
            return
        self._steps[key] = (p.epoch, finished, started)
        took = time.perf_counter() - started
        where = f"{p.done}/{p.total}" if p.total else f"{p.done}"
        status = f"done in {took:.0f}s" if finished else f"{took:.0f}s"
        self.bars.console.print(f"{p.stage}: {where} {status} {info}".rstrip(),
                                markup=False, highlight=False)


def _bars(console: Console) -> Progress:
    return Progress(TextColumn("[bold]{task.description:<14}"), BarColumn(),
                    MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("ETA"),
                    TimeRemainingColumn(), TextColumn("{task.fields[info]}"),
                    console=console, transient=False)


def _figures(ctx, ids: list[str]) -> dict[str, dict]:
    from relearn_tui.store.models import AuditResult

    out: dict[str, dict] = {}
    with ctx.store.session() as s:
        for row in s.exec(select(AuditResult).where(AuditResult.request_id.in_(ids))
                          .order_by(AuditResult.id)).all():
            out.setdefault(row.request_id, {})[row.phase] = row.figures or {}
    return out


def _console(file: object) -> Console:
    # Rich falls back to 80 columns off a terminal, which squeezes the summary table of a
    # logged batch run into truncated cells; a log file has no width to respect.
    tty = getattr(file, "isatty", lambda: False)()
    return Console(file=file, highlight=False, width=None if tty else LOG_WIDTH)


def run(ctx: AppContext, paths: Sequence[str], *, subject: str | None = None,
        as_json: bool = False, out=None, err=None, **flags) -> int:
    opts = Options(paths, subject, as_json, **flags)
    if opts.dry_run:
        as_json = True  # the requests' bodies, as JSON, are all that stdout carries
    if opts.auto_approve:
        opts.run = True
    if opts.run:
        opts.augment = True
    out = out or sys.stdout
    # progress and notes go to stderr when stdout carries JSON
    console = _console((err or sys.stderr) if as_json else out)
    errors = _console(err or sys.stderr)
    t0 = time.perf_counter()
    try:
        report = import_paths(ctx.store, paths, secret=ctx.secret, actor=ctx.operator,
                              subject=subject)
    except RequestFileError as exc:
        errors.print(f"error: {exc}", markup=False, soft_wrap=True)
        return EXIT_USAGE
    ids = report.created + report.unchanged
    opts.timings["import_s"] = round(time.perf_counter() - t0, 2)
    if not as_json:
        console.print(f"imported {len(report.created)}, already stored {len(report.unchanged)}")
    notes: list[str] = []
    if opts.dry_run:
        return _dry_run(ctx, ids, out)
    if opts.augment:
        try:
            _pipeline(ctx, ids, opts, console, notes)
        except workflow.WorkflowError as exc:  # e.g. the run is executing in another process
            errors.print(f"error: {exc}", markup=False, soft_wrap=True)
            return exit_code_for(exc)
        except (AugmentationStopped, AugmentationSetupError) as exc:
            # one line on stderr; under --json the same line and the requests' states (all
            # unchanged by the failed step) on stdout, so a script sees what happened
            errors.print(f"error: {exc}", markup=False, soft_wrap=True)
            if as_json:
                with ctx.store.session() as s:
                    rows = request_rows(s, ids)
                json.dump({"imported": len(report.created), "unchanged": len(report.unchanged),
                           "requests": [r.to_dict() for r in rows],
                           "error": {"message": str(exc), "exit_code": exc.exit_code,
                                     "kind": type(exc).__name__},
                           "timings": opts.timings}, out, indent=2)
                out.write("\n")
            return exc.exit_code
    with ctx.store.session() as s:
        rows = request_rows(s, ids)
    figures = _figures(ctx, ids) if opts.run else None
    failed = any(r.state == workflow.FAILED for r in rows)
    if as_json:
        payload = {"imported": len(report.created), "unchanged": len(report.unchanged),
                   "requests": [{**r.to_dict(), **({"audit": figures.get(r.request_id, {})}
                                                   if figures else {})} for r in rows],
                   "notes": notes, "timings": opts.timings}
        json.dump(payload, out, indent=2)
        out.write("\n")
    else:
        console.print(requests_table(rows, figures=figures))
        if figures and any((f.get("after") or f.get("before") or {}).get("families")
                           for f in figures.values()):
            console.print(families_table(rows, figures))
        for note in notes:
            console.print(note)
        if opts.augment:
            console.print("step times: " + ", ".join(f"{k[:-2]} {v:.0f}s"
                                                     for k, v in opts.timings.items()))
    return EXIT_FAILED if failed else EXIT_OK


def _dry_run(ctx: AppContext, ids: list[str], out) -> int:
    """Print, as JSON, exactly what augmenting the requests would send to the backend's
    server (nothing for the offline backend); send nothing, store nothing."""
    from relearn_tui.augmenting import outbound_requests

    json.dump({"dry_run": True, "requests": {rid: outbound_requests(ctx, rid) for rid in ids}},
              out, indent=2, ensure_ascii=False)
    out.write("\n")
    return EXIT_OK


def _pipeline(ctx, ids: list[str], opts: Options, console: Console, notes: list[str]) -> None:
    from relearn_tui import pipeline

    with _bars(console) as bars:
        view = ProgressView(bars)
        t0 = time.perf_counter()
        pipeline.augment_batch(ctx, pipeline.to_augment(ctx, ids), progress=view)
        opts.timings["augment_s"] = round(time.perf_counter() - t0, 1)
        if opts.auto_approve:
            pipeline.approve_by_policy(ctx, ids)
        wait = pipeline.waiting_for_review(ctx, ids)
        if wait.request_ids:
            notes.append(f"{len(wait.request_ids)} request(s) wait for review "
                         f"({wait.pending_variants} variant(s) pending): review them in the "
                         "TUI, or rerun with --auto-approve")
        for rid, numbers in wait.without_values.items():
            notes.append(f"{rid}: fact(s) {', '.join(map(str, numbers))} hold no private value "
                         "the product found, so nothing would be audited: mark one "
                         f"('relearn-tui fact mark-value {rid} N ...') or record why there is "
                         f"none ('relearn-tui fact no-value {rid} N --reason ...')")
        if not opts.run:
            return
        choice = pipeline.run_to_execute(ctx, ids)
        if choice is None:
            return
        t0 = time.perf_counter()
        pipeline.execute(ctx, choice.run_id, progress=view)
        opts.timings["run_s"] = round(time.perf_counter() - t0, 1)
        opts.timings.update(pipeline.run_timings(ctx, choice.run_id))
        notes += [f"run {choice.run_id}: {line}"
                  for line in pipeline.run_evidence(ctx, choice.run_id)]
        notes.append(f"run {choice.run_id}: reports in {ctx.home / 'reports'}")
