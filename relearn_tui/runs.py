"""Unlearning runs: reviewed requests -> one training run -> audit -> verified or failed.

A run is resumable at every stage: each stage leaves its result on disk or in the database
and is skipped when found, so running :func:`execute_run` again continues where it stopped.
"""

from __future__ import annotations

import dataclasses
import fcntl
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import select

from engine.audit.config import AuditConfig, Thresholds
from engine.progress import Cancelled, CancelToken, Progress, ProgressFn, ignore_progress
from engine.run_inputs import ProbeSettings, RequestItems, build_run_inputs
from engine.train.config import METHOD_NAMES, TrainConfig, with_method_defaults
from engine.types import Probe, TrainData
from engine.types import Variant as EngineVariant
from relearn_tui import audit_cache, workflow
from relearn_tui.deployment import Deployment, build_config, corpus_sha256, load_corpus
from relearn_tui.errors import EXIT_UNAVAILABLE
from relearn_tui.logs import get_logger
from relearn_tui.review import APPROVED, PROBE, engine_fact
from relearn_tui.store.models import AuditResult, Fact, Request, Run, Variant

QUEUED, RUNNING, COMPLETED, FAILED, INTERRUPTED, CANCELED = (
    "queued", "running", "completed", "failed", "interrupted", "canceled")
RUN_STATES = (QUEUED, RUNNING, COMPLETED, FAILED, INTERRUPTED, CANCELED)
RESUMABLE = (QUEUED, RUNNING, INTERRUPTED)
log = get_logger("runs")


class RunError(workflow.WorkflowError):
    pass


class RunBusy(RunError):
    """The run is executing in another process right now: nothing was changed, and the same
    command succeeds once that process is done (exit 3, like a busy database)."""

    exit_code = EXIT_UNAVAILABLE


@dataclass
class RunSettings:
    method: str | None = None  # None: the deployment's
    train: dict[str, Any] = field(default_factory=dict)  # TrainConfig overrides (epochs, lr...)


def train_config(dep: Deployment, settings: RunSettings) -> TrainConfig:
    """The deployment's [train] settings with a run's own choices over them."""
    values = {**dep.sections.get("train", {}), **settings.train,
              "method": settings.method or dep.train.method}
    if values["method"] not in METHOD_NAMES:
        raise RunError(f"unknown method {values['method']!r}; methods: "
                       f"{', '.join(METHOD_NAMES)}")
    return build_config(TrainConfig, with_method_defaults(values), dep.where("train"))


def new_run_id() -> str:
    return f"RUN-{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def create_run(ctx, request_ids: list[str], settings: RunSettings | None = None) -> str:
    """Queue one run for the given requests (all must be ``human_reviewed``). The run keeps
    every setting it executes with (deployment, train, audit, thresholds, probes) and the
    corpus's digest: a resume never reads the deployment file again."""
    dep = ctx.deployment
    if not request_ids:
        raise RunError("a run needs at least one request in human_reviewed")
    config = train_config(dep, settings or RunSettings())
    run_id = new_run_id()
    with ctx.store.session() as s:
        for rid in request_ids:
            req = workflow.get_request(s, rid)
            if req.state != workflow.HUMAN_REVIEWED:
                raise RunError(f"request {rid} is {req.state}; only human_reviewed requests "
                               "can be trained")
        s.add(Run(
            id=run_id, method=config.method, state=QUEUED, request_ids=list(request_ids),
            operator=ctx.operator, out_dir=str(ctx.home / "runs" / run_id),
            base_model=dep.base_model,
            config={"train": config.to_dict(), "audit": dep.audit.to_dict(),
                    "thresholds": dep.thresholds.to_dict(),
                    "probes": dataclasses.asdict(dep.probes), "deployment": dep.to_dict(),
                    "corpus_sha256": corpus_sha256(dep.corpus) if dep.corpus else None},
            created_at=workflow.utcnow(),
        ))
        s.flush()
        for rid in request_ids:
            workflow.record_event(s, rid, actor=ctx.operator, action="run_queued",
                                  detail={"run": run_id, "method": config.method})
    return run_id


def run_deployment(run: Run) -> Deployment:
    """The deployment a run executes with, every setting read back from what the run stored
    when it was created (never the deployment file as it is now). Runs stored before [probes]
    was recorded on its own take it from their stored deployment's sections."""
    config = run.config or {}
    where = f"run {run.id}: stored settings"
    dep = Deployment.from_dict(config.get("deployment") or {}, where)
    return dataclasses.replace(
        dep,
        train=TrainConfig.from_dict(config["train"]),
        audit=build_config(AuditConfig, config.get("audit", {}), f"{where}: [audit]"),
        thresholds=build_config(Thresholds, config.get("thresholds", {}),
                                f"{where}: [thresholds]"),
        probes=build_config(ProbeSettings, config.get("probes", dep.sections.get("probes", {})),
                            f"{where}: [probes]"))


def _check_corpus(run: Run, dep: Deployment) -> None:
    expected = (run.config or {}).get("corpus_sha256")
    if dep.corpus is not None and expected and corpus_sha256(dep.corpus) != expected:
        raise RunError(f"run {run.id}: its corpus {dep.corpus} changed since the run was "
                       "created; start a new run")


def deployed_model(ctx, dep: Deployment | None = None, *,
                   progress: ProgressFn = ignore_progress,
                   cancel: CancelToken | None = None) -> str:
    """The model to unlearn: the deployment's model, or the one built (and cached) by
    fine-tuning the base on the deployment's corpus, or the bare base model. ``dep``: a run's
    stored deployment (default: the current one)."""
    dep = dep or ctx.deployment
    if dep.model:
        return dep.model
    if dep.corpus is None:
        return dep.base_model
    from engine.subject import build_subject_model

    path = build_subject_model(load_corpus(dep.corpus), base=dep.base_model,
                               cache_dir=ctx.home / "models" / "subject", config=dep.subject,
                               progress=progress, cancel=cancel)
    return str(path)


def model_hash(spec: str) -> str:
    from engine.models import resolve, sha256_dir, sha256_file

    folder, gguf = resolve(spec)
    return sha256_file(folder / gguf) if gguf else sha256_dir(folder)


def build_inputs(ctx, run: Run) -> tuple[TrainData, list[Probe]]:
    """Training data and audit probes for a run, rebuilt identically on every resume: its
    requests' facts and reviewed items from the database, its stored [probes] settings and
    corpus, through the engine's one builder."""
    dep = run_deployment(run)
    _check_corpus(run, dep)
    requests: list[RequestItems] = []
    with ctx.store.session() as s:
        for rid in run.request_ids or []:
            req = s.get(Request, rid)
            if req is None or req.subject_name is None:
                raise RunError(f"request {rid}: its facts are gone (purged); it cannot be "
                               "trained again")
            facts = s.exec(select(Fact).where(Fact.request_id == rid)
                           .order_by(Fact.position)).all()
            variants = s.exec(select(Variant).where(Variant.request_id == rid,
                                                    Variant.status.in_((APPROVED, PROBE)))
                              .order_by(Variant.id)).all()
            requests.append(RequestItems(
                rid, req.subject_name, tuple(engine_fact(f, req.subject_name) for f in facts),
                tuple(EngineVariant(str(v.fact_id), v.kind, v.question or "", v.answer or "",
                                    v.backend or "", v.seed or 0, held_out=v.status == PROBE)
                      for v in variants)))
    corpus = load_corpus(dep.corpus) if dep.corpus else []
    return build_run_inputs(requests, corpus, dep.probes)


def _set_run(ctx, run_id: str, **values: Any) -> Run:
    with ctx.store.session() as s:
        run = s.get(Run, run_id)
        if run is None:
            raise RunError(f"no run {run_id!r}")
        for key, value in values.items():
            setattr(run, key, value)
        s.add(run)
        return run


def _stored_audit(ctx, run_id: str, phase: str) -> dict[str | None, AuditResult]:
    with ctx.store.session() as s:
        rows = s.exec(select(AuditResult).where(AuditResult.run_id == run_id,
                                                AuditResult.phase == phase)).all()
    return {r.request_id: r for r in rows}


def _store_audit(ctx, run_id: str, phase: str, figures: dict[str, Any],
                 verdicts: dict[str, tuple[bool, list[str]]] | None = None) -> None:
    with ctx.store.session() as s:
        for key, fig in figures.items():
            data = fig.to_dict()
            records = [r for r in fig.to_dict(include_private=True)["private_probe_records"]
                       # forget answers belong to their request's row, which the purge clears
                       if key or r["group"].startswith("retain")]
            passed, reasons = (verdicts or {}).get(key, (None, None))
            s.add(AuditResult(run_id=run_id, request_id=key or None, phase=phase, figures=data,
                              probe_records=records, passed=passed, reasons=reasons,
                              created_at=workflow.utcnow()))


def _figures_from(rows: dict[str | None, AuditResult]):
    from engine.audit import AuditFigures

    return {(k or ""): AuditFigures.from_dict(r.figures or {}) for k, r in rows.items()}


def execute_run(ctx, run_id: str, *, progress: ProgressFn = ignore_progress,
                cancel: CancelToken | None = None) -> Run:
    """Run (or resume) every stage of a run; returns the finished run row."""
    with ctx.store.session() as s:
        if s.get(Run, run_id) is None:
            raise RunError(f"no run {run_id!r}")
    with _exclusive_run(ctx, run_id):
        # read under the lock: another process may have finished the run meanwhile
        with ctx.store.session() as s:
            run = s.get(Run, run_id)
        if run.state not in RESUMABLE:
            raise RunError(f"run {run_id} is {run.state}; only queued or interrupted runs run")
        return _execute(ctx, run, progress, cancel)


@contextmanager
def _exclusive_run(ctx, run_id: str) -> Iterator[None]:
    """Hold the run's lock while it executes. A run whose process was killed stays ``running``
    in the database but its lock died with the process, so it can be resumed; one that is
    really executing elsewhere cannot be resumed a second time."""
    folder = ctx.home / "runs"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f".{run_id}.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunBusy(f"run {run_id} is executing in another process; wait for it, or "
                           "stop that process first") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _execute(ctx, run: Run, progress: ProgressFn, cancel: CancelToken | None) -> Run:
    from engine.audit import gate
    from engine.audit.stages import audit_families
    from engine.train import run_unlearning

    run_id = run.id
    timings: dict[str, float] = dict((run.record or {}).get("timings", {}))
    run = _set_run(ctx, run_id, state=RUNNING, started_at=run.started_at or workflow.utcnow(),
                   error=None)
    log.info("run %s: start (%s, requests %s)", run_id, run.method, ",".join(run.request_ids))
    out = Path(run.out_dir or ctx.home / "runs" / run_id)
    out.mkdir(parents=True, exist_ok=True)
    dep = run_deployment(run)
    audit_config, thresholds = dep.audit, dep.thresholds
    try:
        t0 = time.perf_counter()
        progress(Progress("subject", 0, 1, "preparing the deployed model"))
        _check_corpus(run, dep)
        subject = deployed_model(ctx, dep, progress=progress, cancel=cancel)
        timings.setdefault("subject_s", round(time.perf_counter() - t0, 1))
        progress(Progress("subject", 1, 1, Path(subject).name))
        run = _set_run(ctx, run_id, subject_sha256=run.subject_sha256 or model_hash(subject),
                       base_sha256=run.base_sha256 or model_hash(dep.base_model))
        data, probes = build_inputs(ctx, run)
        if not data.relearn and run.method == "relearn":
            raise RunError("no approved variants to relearn on")

        # LS's perplexity is judged by the base model for both audits: the deployed model has
        # memorised the corpus and scores its own verbatim answers near PPL 1, so any answer it
        # was not trained on word for word would read as disfluent to it
        ppl_reference = dep.base_model
        before = _stored_audit(ctx, run_id, "before")
        reused_from = (run.record or {}).get("audit_before_from")
        if not before:
            t0 = time.perf_counter()
            # the deployed model leaks by construction: the quantised re-check is for "after"
            before_config = dataclasses.replace(audit_config, quant_bits=())
            key = audit_cache.audit_key(ctx, run, probes, before_config, run.base_sha256)
            reused_from = audit_cache.reuse(ctx, run_id, key)
            if reused_from is None:
                # said before the first answer is drawn, so the display (and a bench's phase
                # clock) move to the audit when it starts, not at its first finished batch
                progress(Progress("audit before", 0, len(probes), "starting"))
                # every probe family, each stored under the run's folder as it finishes
                figures = audit_families(subject, probes, before_config,
                                         reference=ppl_reference,
                                         progress=_staged(progress, "audit before"),
                                         cancel=cancel, checkpoint=out / "audit-before")
                _store_audit(ctx, run_id, "before", figures)
                audit_cache.remember(ctx, key, run_id)
            else:
                log.info("run %s: audit before reused from run %s (same model, probes and "
                         "settings)", run_id, reused_from)
                run = _set_run(ctx, run_id, record={**(run.record or {}),
                                                    "audit_before_from": reused_from})
            timings["audit_before_s"] = round(time.perf_counter() - t0, 1)
            log.info("run %s: audit before done in %.0fs", run_id, timings["audit_before_s"])
            before = _stored_audit(ctx, run_id, "before")
        if dep.require_known_facts:
            check_model_knew(dep, subject, before)

        t0 = time.perf_counter()
        result = run_unlearning(subject, data, dep.train, out / "train", progress=progress,
                                cancel=cancel)
        timings.setdefault("train_s", round(time.perf_counter() - t0, 1))
        log.info("run %s: trained in %.0fs, adapter %s", run_id, timings["train_s"],
                 result.adapter_sha256[:12])
        run = _set_run(ctx, run_id, adapter_sha256=result.adapter_sha256,
                       merged_sha256=result.merged_sha256,
                       record={**result.record, "timings": timings,
                               **({"audit_before_from": reused_from} if reused_from else {}),
                               "merged_dir": str(result.merged_dir),
                               "adapter_dir": str(result.adapter_dir), "subject": subject})
        with ctx.store.session() as s:
            for rid in run.request_ids or []:
                if workflow.get_request(s, rid).state == workflow.HUMAN_REVIEWED:
                    workflow.transition(s, rid, workflow.TRAINED, actor="system", detail={
                        "run": run_id, "method": run.method,
                        "adapter_sha256": result.adapter_sha256,
                        "merged_sha256": result.merged_sha256})

        after = _stored_audit(ctx, run_id, "after")
        if not after:
            t0 = time.perf_counter()
            progress(Progress("audit after", 0, len(probes), "starting"))
            figures = audit_families(result.merged_dir, probes, audit_config,
                                     reference=ppl_reference,
                                     progress=_staged(progress, "audit after"), cancel=cancel,
                                     checkpoint=out / "audit-after",
                                     # the relearning attack's control: never saw the facts
                                     control=dep.base_model)
            before_fig = _figures_from(before)
            verdicts = {}
            for key, fig in figures.items():
                if key and key in before_fig:
                    passed, reasons = gate(before_fig[key], fig, thresholds)
                    verdicts[key] = (passed, list(reasons))
            _store_audit(ctx, run_id, "after", figures, verdicts)
            timings["audit_after_s"] = round(time.perf_counter() - t0, 1)
            log.info("run %s: audit after done in %.0fs", run_id, timings["audit_after_s"])
            after = _stored_audit(ctx, run_id, "after")
        _decide(ctx, run, after)
        run = _set_run(ctx, run_id, state=COMPLETED, finished_at=workflow.utcnow(),
                       record={**(run.record or {}), "timings": timings})
        finalize_run(ctx, run_id)
        log.info("run %s: completed, timings %s", run_id, timings)
        return run
    except (Cancelled, KeyboardInterrupt):
        _set_run(ctx, run_id, state=INTERRUPTED, record={**(run.record or {}),
                                                         "timings": timings})
        log.info("run %s: interrupted, resumable", run_id)
        raise
    except ModelNeverKnewError as exc:
        _stop_run(ctx, run_id, str(exc))
        log.error("run %s: stopped before training, the model never knew the facts", run_id)
        raise
    except Exception as exc:
        _fail_run(ctx, run_id, f"{type(exc).__name__}: {exc}")
        log.error("run %s: failed (%s)", run_id, type(exc).__name__)
        raise


class ModelNeverKnewError(RunError):
    """The deployed model reproduces none of a request's private values before training."""


def never_known(before: dict[str | None, AuditResult]) -> list[str]:
    """The requests whose before-audit leak probes showed none of their private values."""
    return sorted(k for k, row in before.items()
                  if k and (row.figures or {}).get("leak_rate") == 0.0)


def check_model_knew(dep: Deployment, subject: str,
                     before: dict[str | None, AuditResult]) -> None:
    """Stop a run whose model never knew what it is to forget: unlearning it could only end
    in a 'verified' that proves nothing (the usual cause: the wrong deployment, or none)."""
    unknown = never_known(before)
    if unknown:
        raise ModelNeverKnewError(
            f"the deployed model reproduces none of the private values of "
            f"{', '.join(unknown)} before training (deployment {dep.name!r}"
            f"{f' from {dep.source}' if dep.source else ', no deployment file'}, model "
            f"{Path(str(subject)).name}): it never knew them, so unlearning would prove "
            "nothing. Use the deployment whose model learned these facts (the "
            "deployment.toml beside the requests), or set require_known_facts = false in it")


def _staged(progress: ProgressFn, stage: str) -> ProgressFn:
    """Relay an engine job's events under one stage name; its own step (``audit: answers``,
    ``audit: leak probes``) becomes the message, so the display still says where it is."""
    def relay(p: Progress) -> None:
        step = p.stage.partition(": ")[2] or p.stage
        progress(dataclasses.replace(p, stage=stage, message=p.message or step))
    return relay


def _decide(ctx, run: Run, after: dict[str | None, AuditResult]) -> None:
    with ctx.store.session() as s:
        for rid in run.request_ids or []:
            req = workflow.get_request(s, rid)
            if req.state != workflow.TRAINED:
                continue
            row = after.get(rid)
            if row is None:
                passed, reasons = False, ["no audit figures for this request"]
            else:
                passed, reasons = bool(row.passed), list(row.reasons or [])
            workflow.transition(s, rid, workflow.VERIFIED if passed else workflow.FAILED,
                                actor="system", action="verified" if passed else "failed",
                                detail={"run": run.id, "reasons": reasons})
            # reasons name metrics and thresholds only, never a probe's text or answer
            log.info("request %s: %s%s", rid, "verified" if passed else "failed",
                     "" if passed else " (" + "; ".join(reasons) + ")")


def _fail_run(ctx, run_id: str, message: str) -> None:
    with ctx.store.session() as s:
        run = s.get(Run, run_id)
        run.state, run.error, run.finished_at = FAILED, message[:2000], workflow.utcnow()
        s.add(run)
        for rid in run.request_ids or []:
            req = workflow.get_request(s, rid)
            if req.state in (workflow.HUMAN_REVIEWED, workflow.TRAINED):
                workflow.transition(s, rid, workflow.FAILED, actor="system",
                                    detail={"run": run_id, "reason": "run error"})


def _stop_run(ctx, run_id: str, message: str) -> None:
    """End a run that must not train, leaving its requests human_reviewed: nothing about
    them is wrong, and a run with the right deployment can take them as they are."""
    with ctx.store.session() as s:
        run = s.get(Run, run_id)
        run.state, run.error, run.finished_at = FAILED, message[:2000], workflow.utcnow()
        s.add(run)
        for rid in run.request_ids or []:
            workflow.record_event(s, rid, actor="system", action="run_stopped",
                                  detail={"run": run_id, "reason": "the deployed model "
                                          "reproduced none of the private values before "
                                          "training"})


def unfinished_runs(ctx) -> list[Run]:
    with ctx.store.session() as s:
        return list(s.exec(select(Run).where(Run.state.in_(RESUMABLE))
                           .order_by(Run.created_at)).all())


def finalize_run(ctx, run_id: str) -> list[Path]:
    """Export every report of a finished run (each request's and the run's, in each format),
    then purge the personal data of the requests it verified. Safe to call again."""
    from relearn_tui.purge import purge_request
    from relearn_tui.reports import REPORT_FORMATS, export_request_report, export_run_report

    with ctx.store.session() as s:
        run = s.get(Run, run_id)
        states = {rid: workflow.get_request(s, rid).state for rid in run.request_ids or []}
    written = [export_run_report(ctx, run_id, fmt) for fmt in REPORT_FORMATS]
    for rid, state in states.items():
        written += [export_request_report(ctx, rid, fmt) for fmt in REPORT_FORMATS]
        if state == workflow.VERIFIED and purge_request(ctx, rid, actor=ctx.operator):
            # the filed report then records the purge too
            for fmt in REPORT_FORMATS:
                export_request_report(ctx, rid, fmt)
    return written
