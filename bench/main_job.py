"""The main command's phases, today's way and the new way side by side in one process.

Each column is the whole main job through the application's own code: import the sample
requests, augment them (offline backend), approve them by policy, and execute one run
(``relearn_tui.pipeline.execute``: before-audit, training, after-audit, reports, purge), each
column in its own fresh ``RELEARN_HOME`` with the cached deployed model linked in (building it is
not what this measures). Per phase it prints seconds, training steps and tokens, and the
generation work (answers, sampled answers, answer tokens, token positions run through the
model), then the ratios new / today, and writes ``bench/results/main_job[-quick].json``.

- ``today``: generation through ``model.generate`` (the prompt run k times for k samples,
  finished rows padded to the longest), as before this bench.
- ``new``: the audit's own decoding loop (``engine.audit.generation``). Then, if a request
  failed, the retry an operator would start (failed -> human_reviewed, a new run), stopped as
  soon as training starts: its before-audit is the cached one, so its seconds are what a rerun
  on the same model, probes and settings pays.

Both columns train the same way (same seed), so the training ratio shows this machine's noise,
and equal merged-model hashes say that any difference in the after-audit's figures comes from
the sampled answers alone. The figures and verdicts of both columns are printed and stored.

    nice -n 19 .venv/bin/python bench/main_job.py --quick   # one request, one epoch
    nice -n 19 .venv/bin/python bench/main_job.py           # the main command's batch and settings
    .venv/bin/python bench/main_job.py --columns new --deployment sample_requests/authors \
        --set qat_retain=false                              # the second sample, a [train] change

On a shared machine whose load changes while a column runs, the columns can run at the same time
in two processes (``--columns today --out A.json`` and ``--columns new --out B.json``, each with
its own ``--work``), then ``--combine A.json B.json`` makes the one table: both then see the same
load, at the price of competing with each other.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import time
import types
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TQDM_DISABLE", "1")

SAMPLES = ROOT / "sample_requests"
PHASES = ("subject", "audit before", "train", "audit after")
FIGURES = ("kfr", "kfr_original", "kfr_worst", "krr", "krr_subjects", "krr_generic", "krr_own",
           "ls", "ppl", "leak_rate", "leak_rate_8bit", "leak_rate_4bit")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def fresh_home(folder: Path, subject_cache: Path) -> Path:
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "models" / "subject").mkdir(parents=True)
    # the built models only: a lock file linked in would be shared with whoever else uses
    # that cache (a process holding it would stall this bench)
    for entry in subject_cache.iterdir():
        if entry.name.startswith(".") or not entry.is_dir():
            continue
        (folder / "models" / "subject" / entry.name).symlink_to(entry.resolve())
    return folder


class PhaseMeter:
    """A progress callback that books generation counts and seconds to the phase under way."""

    def __init__(self, cancel_at: str | None = None, token: Any = None) -> None:
        from engine.audit.generation import COUNTS

        self.counts = COUNTS
        self.phase: str | None = None
        self.started = time.perf_counter()
        self.phases: dict[str, dict[str, Any]] = {}
        self.cancel_at, self.token = cancel_at, token
        self.last_log = 0.0

    def _close(self) -> None:
        if self.phase is not None:
            entry = self.phases.setdefault(self.phase, {"wall_s": 0.0})
            entry["wall_s"] += round(time.perf_counter() - self.started, 1)
            for k, v in self.counts.snapshot().items():
                entry[k] = entry.get(k, 0) + v
        self.counts.reset()
        self.started = time.perf_counter()

    def __call__(self, p: Any) -> None:
        stage = p.stage if p.stage in PHASES else None
        if stage is not None and stage != self.phase:
            self._close()
            self.phase = stage
            if stage == self.cancel_at and self.token is not None:
                self.token.cancel()
        now = time.perf_counter()
        if now - self.last_log > 60:
            self.last_log = now
            log(f"  {p.stage}: {p.message or ''} {p.done}/{p.total}")

    def finish(self) -> dict[str, dict[str, Any]]:
        self._close()
        self.phase = None
        return self.phases


def audit_rows(ctx: Any, run_id: str) -> dict[str, Any]:
    from sqlmodel import select

    from relearn_tui.store.models import AuditResult

    with ctx.store.read() as s:
        rows = s.exec(select(AuditResult).where(AuditResult.run_id == run_id)).all()
    out: dict[str, Any] = {}
    for r in rows:
        fig = r.figures or {}
        out.setdefault(r.request_id or "run", {})[r.phase] = {
            **{k: fig.get(k) for k in FIGURES}, "passed": r.passed,
            "reasons": list(r.reasons or [])}
    return out


def run_column(name: str, home: Path, files: list[Path], train: dict[str, Any],
               before_only: bool = False, samples: Path = SAMPLES) -> dict[str, Any]:
    """One whole main job in ``home``; today's generation path when ``name == 'today'``.
    ``before_only``: the run is stopped when training starts (then, in the new column, a second
    run over the same requests shows the reused before-audit)."""
    from engine.audit.generation import hf_generate_path
    from engine.progress import Cancelled, CancelToken
    from relearn_tui import pipeline, runs, workflow
    from relearn_tui.context import AppContext
    from relearn_tui.importer import import_paths
    from relearn_tui.runs import RunSettings
    from relearn_tui.store.models import Run

    os.environ["RELEARN_HOME"] = str(home)
    ctx = AppContext.create(operator="bench", deployment=samples / "deployment.toml")
    settings = RunSettings(train=dict(train))
    path = hf_generate_path() if name == "today" else contextlib.nullcontext()
    t0 = time.perf_counter()
    report = import_paths(ctx.store, files, secret=ctx.secret, actor=ctx.operator)
    ids = report.created + report.unchanged
    pipeline.augment_batch(ctx, pipeline.to_augment(ctx, ids))
    pipeline.approve_by_policy(ctx, ids)
    augment_s = round(time.perf_counter() - t0, 1)
    choice = pipeline.run_to_execute(ctx, ids, settings)
    subject = Path(runs.deployed_model(ctx))  # the cached build of this deployment's corpus
    padding = padding_share(ctx, choice.run_id, subject)
    token = CancelToken()
    meter = PhaseMeter(cancel_at="train" if before_only else None, token=token)
    log(f"{name}: run {choice.run_id} over {', '.join(ids)}; training padding {padding}")
    t0 = time.perf_counter()
    with path, contextlib.suppress(Cancelled):
        pipeline.execute(ctx, choice.run_id, progress=meter, cancel=token)
    total_s = round(time.perf_counter() - t0, 1)
    phases = meter.finish()
    with ctx.store.read() as s:
        run = s.get(Run, choice.run_id)
        record = dict(run.record or {})
        merged = run.merged_sha256
    timings = pipeline.run_timings(ctx, choice.run_id)
    history = record.get("history") or []
    phases.setdefault("train", {}).update(
        steps=sum(h.get("steps", 0) for h in history), tokens_trained=record.get("tokens"),
        epochs=record.get("epochs_run"), tokens_per_s=record.get("tokens_per_s"))
    for phase, key in (("audit before", "audit_before_s"), ("train", "train_s"),
                       ("audit after", "audit_after_s")):
        phases.setdefault(phase, {})["seconds"] = timings.get(key)
    states = pipeline.states(ctx, ids)
    out = {"run": choice.run_id, "augment_s": augment_s, "train_padding": padding,
           "run_s": total_s, "timings": timings,
           "phases": phases, "states": states, "merged_sha256": merged,
           "figures": audit_rows(ctx, choice.run_id), "hardware": record.get("hardware")}

    failed = [rid for rid, st in states.items() if st == workflow.FAILED]
    if name != "today" and (failed or before_only):
        if before_only:
            # the requests are still human_reviewed: a second run over them
            failed = list(ids)
            retry_id = runs.create_run(ctx, failed, settings)
        else:
            # the operator's retry of a failed request: same model, probes and audit settings
            with ctx.store.session() as s:
                for rid in failed:
                    workflow.transition(s, rid, workflow.HUMAN_REVIEWED, actor="bench",
                                        detail={"retry": choice.run_id})
            retry_id = pipeline.run_to_execute(ctx, failed, settings).run_id
        retry = types.SimpleNamespace(run_id=retry_id)
        token = CancelToken()
        meter = PhaseMeter(cancel_at="train", token=token)
        with contextlib.suppress(Cancelled):
            pipeline.execute(ctx, retry.run_id, progress=meter, cancel=token)
        with ctx.store.read() as s:
            rec = dict(s.get(Run, retry.run_id).record or {})
        out["retry_before"] = {
            "requests": failed, "run": retry.run_id,
            "seconds": rec.get("timings", {}).get("audit_before_s"),
            "reused_from": rec.get("audit_before_from"),
            "same_figures": audit_rows(ctx, retry.run_id).get("run", {}).get("before")
            == out["figures"].get("run", {}).get("before")}
    return out


def padding_share(ctx: Any, run_id: str, subject: Path) -> dict[str, Any]:
    """Of the token positions the training forwards run (each step's rows padded to its longest
    row, as engine.train.data collates them), the share that is padding: the most that packing
    rows without padding could save in the forwards. Computed from the run's own data, batch
    plan and tokenizer, without training."""
    from engine.models import load_tokenizer
    from engine.train.data import Rows, epoch_batches, sampled_indices, tokenise
    from engine.train.methods import make_method
    from relearn_tui import runs
    from relearn_tui.store.models import Run

    with ctx.store.read() as s:
        run = s.get(Run, run_id)
    config = runs.run_deployment(run).train
    data, _ = runs.build_inputs(ctx, run)
    tok = load_tokenizer(str(subject))
    method = make_method(config.method, config)
    rows = {name: Rows.from_dataset(tokenise(qa, tok, config.max_length, name))
            for name, qa in method.streams(data).items()}
    lengths = {name: r.lengths() for name, r in rows.items()}
    primary = lengths[method.primary]
    real = padded = 0
    for epoch in range(config.epochs):
        batches = epoch_batches(primary, range(len(primary)), config.batch_size, config.seed,
                                epoch, buckets=config.length_buckets)
        side = {n: sampled_indices(len(rows[n]), config.batch_size, len(batches), config.seed,
                                   epoch, n) for n in method.sampled}
        for bi, picks in enumerate(batches):
            step = [primary[i] for i in picks]
            for n in method.aligned:
                step += [lengths[n][i] for i in picks]
            for n in method.sampled:
                step += [lengths[n][i] for i in side[n][bi]]
            real += sum(step)
            padded += len(step) * max(step)
    return {"real_positions": real, "padded_positions": padded,
            "padding_share": round(1 - real / padded, 4) if padded else 0.0}


def ratio(new: Any, old: Any) -> float | None:
    if not isinstance(new, int | float) or not isinstance(old, int | float) or not old:
        return None
    return round(new / old, 3)


def table(cols: dict[str, dict[str, Any]]) -> list[str]:
    today, new = cols.get("today"), cols.get("new")
    keys = ("seconds", "steps", "tokens_trained", "answers", "sampled", "new_tokens",
            "positions_computed")
    lines = ["| phase | measure | today | new | new / today |", "|---|---|---|---|---|"]
    for phase in ("audit before", "train", "audit after"):
        for k in keys:
            a = (today or {}).get("phases", {}).get(phase, {}).get(k)
            b = (new or {}).get("phases", {}).get(phase, {}).get(k)
            if (a is None and b is None) or (k != "seconds" and not a and not b):
                continue
            lines.append(f"| {phase} | {k} | {a} | {b} | {ratio(b, a)} |")
    if today and new:
        lines.append(f"| whole run | seconds | {today['run_s']} | {new['run_s']} | "
                     f"{ratio(new['run_s'], today['run_s'])} |")
    retry = (new or {}).get("retry_before")
    if retry:
        old = (today or {}).get("phases", {}).get("audit before", {}).get("seconds")
        lines.append(f"| audit before, retried request | seconds | {old} | {retry['seconds']} "
                     f"| {ratio(retry['seconds'], old)} |")
    return lines


def figures_lines(cols: dict[str, dict[str, Any]]) -> list[str]:
    lines = ["| column | request | phase | " + " | ".join(FIGURES) + " | passed |",
             "|---|---|---|" + "---|" * (len(FIGURES) + 1)]
    for name, col in cols.items():
        for rid, phases in sorted(col["figures"].items()):
            for phase in ("before", "after"):
                f = phases.get(phase)
                if not f:
                    continue
                vals = " | ".join("-" if f.get(k) is None else f"{f[k]:.3f}" for k in FIGURES)
                lines.append(f"| {name} | {rid} | {phase} | {vals} | {f['passed']} |")
    return lines


def report(cols: dict[str, dict[str, Any]]) -> list[str]:
    lines = table(cols)
    print("\n".join(lines))
    print()
    print("\n".join(figures_lines(cols)))
    same = len({c["merged_sha256"] for c in cols.values()}) == 1
    print(f"\nmerged models identical across columns: {same}")
    return lines


def combine(files: list[Path], out: Path | None) -> int:
    parts = [json.loads(f.read_text()) for f in files]
    cols = {name: col for p in parts for name, col in p["columns"].items()}
    lines = report(cols)
    result = {**parts[0], "columns": cols, "table": lines, "figures_table": figures_lines(cols),
              "combined_from": [str(f) for f in files],
              "runs": {f.name: {"date": p["date"], "commit": p["commit"]}
                       for f, p in zip(files, parts, strict=True)},
              "merged_identical": len({c["merged_sha256"] for c in cols.values()}) == 1}
    out = out or ROOT / "bench" / "results" / f"main_job-{parts[0]['mode']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, default=str))
    print(f"wrote {out}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="one request (the deployment's first: DSR-2026-0041 on the main "
                    "command's) and one epoch: minutes, for ratios")
    ap.add_argument("--columns", default="today,new", help="which columns, in this order")
    ap.add_argument("--epochs", type=int, help="override the deployment's epochs")
    ap.add_argument("--deployment", type=Path, default=SAMPLES,
                    help="a sample folder (its requests and deployment.toml): sample_requests "
                    "(the main command's) or sample_requests/authors")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a [train] setting for the run, over the deployment's (repeatable)")
    ap.add_argument("--before-only", action="store_true",
                    help="stop each run when training starts: the before-audit alone, and in "
                    "the new column a second run's reused before-audit")
    ap.add_argument("--work", type=Path, default=Path("/tmp/main-job-bench"))
    ap.add_argument("--subject-cache", type=Path,
                    default=Path(os.environ.get("RELEARN_SUBJECT_CACHE",
                                                "/work/relearn-home/models/subject")),
                    help="a RELEARN_HOME's models/subject folder with the deployed model built")
    ap.add_argument("--threads", type=int, help="torch threads (default: torch's own)")
    ap.add_argument("--out", type=Path, help="the JSON written (default: "
                    "bench/results/main_job[-quick].json)")
    ap.add_argument("--combine", type=Path, nargs="+", metavar="JSON",
                    help="no run: put the columns of these result files (each column run in "
                    "its own process, at the same time) into one table and --out")
    args = ap.parse_args()
    if args.combine:
        return combine(args.combine, args.out)

    import torch

    from bench.stamp import stamp, train_overrides

    if args.threads:
        torch.set_num_threads(args.threads)
    if not args.subject_cache.is_dir():
        print(f"error: {args.subject_cache}: no built deployed model there (--subject-cache)",
              file=sys.stderr)
        return 2
    from relearn_tui.importer import request_files

    # the main command's own batch: what `relearn-tui ... sample_requests/` imports
    files = request_files([args.deployment])
    train: dict[str, Any] = train_overrides(args.set)
    if args.quick:
        files = [f for f in files if f.suffix == ".json"][:1]
        train["epochs"] = 1
    if args.epochs:
        train["epochs"] = args.epochs
    started = datetime.now(UTC)
    run_stamp = stamp()  # the commit and hardware at the start: the tree may change meanwhile
    cols: dict[str, dict[str, Any]] = {}
    for name in args.columns.split(","):
        if name not in ("today", "new"):
            print(f"error: --columns: unknown column {name!r} (today, new)", file=sys.stderr)
            return 2
        home = fresh_home(args.work / name, args.subject_cache)
        load = os.getloadavg()[0]
        cols[name] = run_column(name, home, files, train, args.before_only, args.deployment)
        cols[name]["load_before"] = round(load, 2)
        log(f"{name}: done in {cols[name]['run_s']} s, states {cols[name]['states']}")

    lines = report(cols)
    same = len({c["merged_sha256"] for c in cols.values()}) == 1
    result = {
        "bench": "main_job", "mode": ("quick" if args.quick else "full")
        + ("-before-only" if args.before_only else ""),
        **run_stamp, "started": started.strftime("%Y-%m-%d %H:%M UTC"),
        "threads": torch.get_num_threads(),
        "deployment": str(args.deployment.resolve().relative_to(ROOT)),
        "requests": [f.stem for f in files], "train_overrides": train,
        "columns": cols, "merged_identical": same, "table": lines,
        "figures_table": figures_lines(cols),
    }
    out = args.out or ROOT / "bench" / "results" / f"main_job{'-quick' if args.quick else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, default=str))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
