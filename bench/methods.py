"""Unlearning methods side by side on the sample deployment.

The subject model is built from sample_requests/corpus.jsonl; the three sample requests
(DSR-2026-0041/0042/0043) are forgotten together, every method from the same start, the same
data and the same probes. Each merged model is audited against the subject model (the "before"
figures) and gated with the default thresholds. Prints one table, writes
bench/results/methods.json and bench/results/methods.md (the table for the README).

    .venv/bin/python bench/methods.py                       # every method, its chosen settings
    .venv/bin/python bench/methods.py --methods relearn --sweep   # relearn's small sweep
    .venv/bin/python bench/methods.py --quick               # k=3 leak samples, fewer probes
    .venv/bin/python bench/methods.py --deployment sample_requests/authors --methods relearn
        # the second sample: its requests, corpus and probes

Relearn trains with the deployment's [train] settings, the baselines with CHOSEN below.

Finished training runs and audits are cached under --work, so a rerun only does what changed.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TQDM_DISABLE", "1")

from engine.train.config import METHOD_DEFAULTS  # noqa: E402
from relearn_tui.reports.figures import fmt, settings_text  # noqa: E402

# the baselines the table compares ReLearn with (of engine.train.config.METHOD_NAMES)
BASELINES = ("ga", "gd", "npo", "npo_gdr", "yao", "icu")

# The settings each method runs with in the table: each method's defaults (METHOD_DEFAULTS,
# what a deployment's [train] gets for the keys it leaves out); the baselines' are the best of
# their sweep below as `--sweep --screen` picks it (KRR kept first, then the greedy gate bars
# met, then KFR held-out + KRR + LS ratio). Relearn runs as the deployment resolves its [train]
# section (below), as the application's run of it would.
CHOSEN: dict[str, dict[str, Any]] = {
    "relearn": dict(METHOD_DEFAULTS["relearn"]),
    **{m: dict(METHOD_DEFAULTS[m]) for m in BASELINES},
}
METHODS = tuple(CHOSEN)

SWEEPS: dict[str, list[dict[str, Any]]] = {
    "relearn": [{"epochs": 6, "lr": 1e-3, "forget_weight": 3.0},
                {"epochs": 6, "lr": 1e-3, "forget_weight": 3.0, "qat_bits": 4},
                {"epochs": 6, "lr": 1e-3, "forget_weight": 2.0},
                {"epochs": 6, "lr": 1e-3, "forget_weight": 1.5}, {"epochs": 6, "lr": 1e-3},
                {"epochs": 8, "lr": 1e-3},
                {"epochs": 3, "lr": 1e-3}, {"epochs": 4, "lr": 1e-4}],
    # the forget set is 18 facts, 3 steps an epoch: the second setting takes 10x the steps
    **{m: [{"epochs": 4, "lr": 5e-4}, {"epochs": 10, "lr": 2e-3}]
       for m in BASELINES},
}


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def build_scenario(args: argparse.Namespace, log) -> dict[str, Any]:
    """Subject model, training data and probes of a sample deployment (``args.deployment``),
    built as the application builds them (bench/sample_inputs.py); ``args`` may override
    [probes] settings."""
    from bench.sample_inputs import sample_run_inputs
    from engine.subject import build_subject_model

    t = time.perf_counter()
    inputs = sample_run_inputs(
        args.deployment, subject_probes=args.retain_subjects, generic_probes=args.retain_generic,
        retain_train_size=args.retain_train, trained_per_fact=args.trained_per_fact,
        original_question_answers=args.original_answers)
    dep, data, probes = inputs["deployment"], inputs["data"], inputs["probes"]
    items = [v for r in inputs["items"] for v in r.items]
    log(f"augmented {sum(len(r.facts) for r in inputs['items'])} facts into {len(items)} "
        f"items ({sum(v.held_out for v in items)} held out) in {time.perf_counter() - t:.0f}s")
    t = time.perf_counter()
    subject = build_subject_model(inputs["corpus"], base=dep.base_model,
                                  cache_dir=args.subject_cache, config=dep.subject,
                                  progress=lambda p: log(f"subject: {p.stage} {p.done}/{p.total}"))
    log(f"subject model {subject} ({time.perf_counter() - t:.0f}s)")
    counts: dict[str, int] = {}
    for p in probes:
        counts[p.group] = counts.get(p.group, 0) + 1
    log(f"train data: forget {len(data.forget)}, relearn {len(data.relearn)}, "
        f"retain {len(data.retain)}; probes {counts}")
    return {"subject": subject, "data": data, "probes": probes, "probe_counts": counts,
            "probe_settings": inputs["probe_settings"], "deployment": dep}


def _logged(log, label: str):
    """A progress listener that logs a stage's step every 30 s and at its end."""
    last = [0.0]

    def progress(p) -> None:
        now = time.perf_counter()
        if now - last[0] > 30 or p.done == p.total:
            last[0] = now
            log(f"  {label}: {p.stage}" + (f", {p.message}" if p.message else "")
                + f" {p.done}/{p.total}")

    return progress


def _stored(path: Path, compute, load):
    """``compute()``'s result and seconds, kept in ``path`` as JSON: ``compute`` returns the
    result and its JSON form, ``load`` makes the result again from that form. Two bench
    processes (say relearn and the baselines) wait for each other's entry instead of both
    computing it."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if path.is_file():
            data = json.loads(path.read_text())
            return load(data["figures"]), data["seconds"]
        t = time.perf_counter()
        result, as_json = compute()
        seconds = time.perf_counter() - t
        path.write_text(json.dumps({"seconds": seconds, "figures": as_json}, indent=1))
        return result, seconds


def audit_cached(model: Path, probes, config, reference, work: Path, log, label: str,
                 control=None):
    """The application's staged audit (every probe family; with ``control``, the relearning
    attack too), cached by model hash, probes, audit config and control."""
    from engine.audit import AUDIT_VERSION, AuditFigures
    from engine.audit.stages import audit_families
    from engine.models import model_identity

    key = _digest([AUDIT_VERSION, model_identity(model), [p.__dict__ for p in probes],
                   config.to_dict(), model_identity(reference) if reference else None,
                   model_identity(control) if control else None])

    def compute():
        figs = audit_families(model, probes, config, reference=reference,
                              progress=_logged(log, label), control=control)
        # the bench's cache is local and holds fictional data: keep the failing probes for study
        return figs, {k: v.to_dict(include_private=True) for k, v in figs.items()}

    return _stored(work / "audits" / f"{label}-{key}.json", compute,
                   lambda figures: {k: AuditFigures.from_dict(v) for k, v in figures.items()})


def attack_cached(model: Path, control: Path, probes, config, work: Path, log,
                  label: str) -> tuple[dict[str, Any], float, float]:
    """The application's relearning attack alone (engine.audit.relearn_attack) on ``model``
    with ``control``, cached like an audit; its figures per request key and "" for the run, the
    model's attack seconds and the control's. The control's hits are cached on their own: every
    screened model of a scenario shares them, so only the first screen pays the control's two
    fine-tunes (a later screen reports the first one's control seconds, read from the cache)."""
    from engine.audit import AUDIT_VERSION
    from engine.audit.config import RELEARN_GROUP
    from engine.audit.relearn_attack import attack_hits, recovery_figures
    from engine.models import model_identity

    items = [p for p in probes if p.group == RELEARN_GROUP]
    attack_key = [AUDIT_VERSION, [p.__dict__ for p in items], config.to_dict()]

    def hits(spec: Path, who: str, name: str) -> tuple[dict[str, list[bool]], float]:
        def compute():
            out = attack_hits(spec, items, config, who=who, workdir=work / "attack",
                              progress=_logged(log, name))
            return out, out
        key = _digest([*attack_key, model_identity(spec)])
        return _stored(work / "audits" / f"{name}-attack-{key}.json", compute, lambda f: f)

    model_hits, model_s = hits(model, "model", label)
    control_hits, control_s = hits(control, "control", "control")
    return recovery_figures(items, model_hits, control_hits, config), model_s, control_s


def row_of(method: str, settings: dict[str, Any], figs, before, train_s: float | None,
           audit_s: float, thresholds) -> dict[str, Any]:
    from engine.audit import gate

    run = figs[""]
    passed, reasons = gate(before[""], run, thresholds) if method != "(before)" else (None, [])
    per_request = {}
    for key, fig in figs.items():
        if key:
            ok, why = gate(before[key], fig, thresholds) if method != "(before)" else (None, [])
            per_request[key] = {"kfr": fig.kfr, "leak_rate": fig.leak_rate,
                                "leak_rate_4bit": fig.leak_rate_4bit, "passed": ok,
                                "reasons": why}
    return {
        "method": method, "settings": settings,
        "kfr_heldout": run.kfr_heldout, "kfr_original": run.kfr_original,
        "kfr_trained": run.kfr_trained, "kfr": run.kfr, "krr": run.krr,
        "krr_subjects": run.krr_subjects, "krr_generic": run.krr_generic,
        "ls": run.ls, "ppl": run.ppl, "brunet": run.brunet, "honore": run.honore,
        "leak_rate": run.leak_rate, "leak_rate_8bit": run.leak_rate_8bit,
        "leak_rate_4bit": run.leak_rate_4bit, "quant_backends": run.quant_backends,
        # the adversarial families, the worst case, membership inference, the relearning attack
        "kfr_independent": run.families.get("independent", {}).get("kfr"),
        "kfr_extraction": run.families.get("extraction", {}).get("kfr"),
        "leak_independent": run.families.get("independent", {}).get("leak_rate"),
        "leak_extraction": run.families.get("extraction", {}).get("leak_rate"),
        "kfr_worst": run.kfr_worst, "leak_rate_worst": run.leak_rate_worst,
        "leak_rate_4bit_worst": run.leak_rate_4bit_worst, "mia_auc": run.mia_auc,
        "relearn_recovery": run.relearn_recovery, "stage_seconds": run.stage_seconds,
        "train_s": train_s, "audit_s": audit_s, "passed": passed, "reasons": reasons,
        "per_request": per_request, "figures": run.to_dict(),
    }


def greedy_figures(fig) -> dict[str, Any]:
    """The figures a greedy-only audit gives (no sampling, no quantised re-check)."""
    return {"kfr_heldout": fig.kfr_heldout, "kfr_original": fig.kfr_original,
            "kfr_trained": fig.kfr_trained, "krr": fig.krr, "krr_subjects": fig.krr_subjects,
            "krr_generic": fig.krr_generic, "krr_own": fig.krr_own, "ls": fig.ls,
            "ppl": fig.ppl, "brunet": fig.brunet, "honore": fig.honore,
            "kfr_independent": fig.families.get("independent", {}).get("kfr"),
            "kfr_extraction": fig.families.get("extraction", {}).get("kfr"),
            "kfr_worst": fig.kfr_worst}


def _f(x: float | None, digits: int = 2) -> str:
    return fmt(x, digits)


def table(rows: list[dict[str, Any]]) -> str:
    head = ["method", "settings", "KFR held-out", "KFR orig", "KRR", "LS", "PPL", "Brunet",
            "Honore", "leak", "leak 8-bit", "leak 4-bit", "KFR indep", "KFR extr",
            "leak indep", "leak extr", "KFR worst", "leak worst", "leak 4-bit worst", "MIA AUC",
            "relearn", "train s", "audit s", "verified"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        verified = "-" if r["passed"] is None else ("yes" if r["passed"] else "no")
        lines.append("| " + " | ".join([
            r["method"], settings_text(r["settings"]), _f(r["kfr_heldout"]), _f(r["kfr_original"]),
            _f(r["krr"]), _f(r["ls"], 3), _f(r["ppl"], 1), _f(r["brunet"], 1),
            _f(r["honore"], 0), _f(r["leak_rate"]), _f(r["leak_rate_8bit"]),
            _f(r["leak_rate_4bit"]), *(_f(r.get(k)) for k in (
                "kfr_independent", "kfr_extraction", "leak_independent", "leak_extraction",
                "kfr_worst", "leak_rate_worst", "leak_rate_4bit_worst", "mia_auc",
                "relearn_recovery")),
            _f(r["train_s"], 0), _f(r.get("audit_s"), 0), verified,
        ]) + " |")
    return "\n".join(lines)


def merge(paths: list[Path], out: Path) -> int:
    """One table from several runs of this bench: the first file's "(before)" row, then every
    method row in file order (a later row of the same method and settings replaces it)."""
    merged: dict[str, Any] = {}
    rows: dict[str, dict[str, Any]] = {}
    for path in paths:
        data = json.loads(path.read_text())
        merged = merged or {k: v for k, v in data.items() if k != "rows"}
        for row in data["rows"]:
            key = row["method"] + json.dumps(row["settings"], sort_keys=True)
            if row["method"] != "(before)" or not any(k.startswith("(before)") for k in rows):
                rows[key] = row
    merged["rows"] = list(rows.values())
    merged["merged_from"] = [str(p) for p in paths]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(merged, indent=1, default=str))
    out.with_suffix(".md").write_text(table(merged["rows"]) + "\n")
    print(table(merged["rows"]))
    print(f"\nwrote {out} and {out.with_suffix('.md')}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--deployment", type=Path, default=ROOT / "sample_requests",
                    help="a sample folder (requests, corpus, deployment.toml); relearn then "
                         "trains with that deployment's [train] settings")
    ap.add_argument("--sweep", action="store_true", help="run each method's sweep grid")
    ap.add_argument("--screen", action="store_true",
                    help="with --sweep: audit every setting greedily, then fully only the best")
    ap.add_argument("--greedy-only", action="store_true",
                    help="audit each trained setting greedily (the screen: every probe, no "
                         "leak sampling, no re-check, no attack) and stop there")
    ap.add_argument("--attack", action="store_true",
                    help="with --greedy-only: also the relearning attack (the application's, "
                         "on the unlearned model and on the base model as control)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a TrainConfig field for every run (repeatable)")
    ap.add_argument("--leak-samples", type=int, default=10)
    ap.add_argument("--quant-bits", default="4", help="re-check precisions, e.g. 8,4")
    # [probes] settings: the sample deployment's unless given (the application's run uses them)
    ap.add_argument("--trained-per-fact", type=int, default=None)
    ap.add_argument("--retain-subjects", type=int, default=None,
                    help="retain probes about other customers (candidates: see known_retain)")
    ap.add_argument("--retain-generic", type=int, default=None, help="generic retain probes")
    ap.add_argument("--retain-train", type=int, default=None,
                    help="retain training pairs (at most what the probes leave)")
    ap.add_argument("--original-answers", type=int, default=None,
                    help="approved answers each original question is trained with (relearn)")
    ap.add_argument("--audit-batch", type=int, default=128, help="rows per generation batch")
    ap.add_argument("--quick", action="store_true", help="k=3 leak samples")
    ap.add_argument("--ppl-reference", choices=("subject", "base"), default="base",
                    help="model whose perplexity scores answers for LS: the base SmolLM2 "
                         "(what the application uses) or the subject model (it memorised the "
                         "corpus, so only its verbatim answers score well)")
    ap.add_argument("--seed", type=int, default=0,
                    help="the audit's sampling seed (augmentation and probes: the deployment's)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: leave as is)")
    ap.add_argument("--work", type=Path, default=ROOT / ".cache" / "bench" / "methods")
    ap.add_argument("--subject-cache", type=Path,
                    default=Path(os.environ.get("RELEARN_TEST_CACHE", ROOT / ".cache" / "tests"))
                    / "subject")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "methods.json")
    ap.add_argument("--merge", type=Path, nargs="+", metavar="JSON",
                    help="only combine the rows of earlier runs' JSON files (say, relearn and "
                         "the baselines run as two processes) into --out and its table")
    args = ap.parse_args(argv)
    if args.merge:
        return merge(args.merge, args.out)
    if args.quick:
        args.leak_samples = 3

    import torch

    from bench.stamp import stamp, train_overrides
    from engine.audit import RETAIN_GROUPS, AuditConfig, Thresholds, known_retain
    from engine.models import default_gguf_path
    from engine.train import TrainConfig, run_unlearning

    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.perf_counter()
    run_stamp = stamp()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - started:7.0f}s] {msg}", flush=True)

    overrides = train_overrides(args.set)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in CHOSEN]
    if unknown:
        ap.error(f"unknown method(s) {unknown}; known: {', '.join(CHOSEN)}")

    scenario = build_scenario(args, log)
    subject, data, probes = scenario["subject"], scenario["data"], scenario["probes"]
    dep_train, default = scenario["deployment"].train, TrainConfig()
    CHOSEN["relearn"] = {f.name: getattr(dep_train, f.name)
                         for f in dataclasses.fields(TrainConfig) if f.name != "method"
                         and getattr(dep_train, f.name) != getattr(default, f.name)}
    args.work.mkdir(parents=True, exist_ok=True)
    # KRR is about knowledge kept: retain candidates the subject model already got wrong would
    # count against every method alike, so a quick greedy screen drops them first.
    candidates = [p for p in probes if p.group in RETAIN_GROUPS]
    screen_cfg = AuditConfig(leak_samples=0, quant_bits=(), batch_size=args.audit_batch)
    screen, _ = audit_cached(subject, candidates, screen_cfg, None, args.work, log, "screen")
    probes = [p for p in probes if p.group not in RETAIN_GROUPS] + known_retain(
        candidates, screen[""])
    counts: dict[str, int] = {}
    for p in probes:
        counts[p.group] = counts.get(p.group, 0) + 1
    scenario["probe_counts"] = counts
    kept = sum(1 for p in probes if p.group in RETAIN_GROUPS)
    log(f"retain probes the subject model knows: {kept} of {len(candidates)}; probes {counts}")
    audit_cfg = AuditConfig(leak_samples=args.leak_samples, seed=args.seed,
                            batch_size=args.audit_batch,
                            quant_bits=tuple(int(b) for b in args.quant_bits.split(",") if b),
                            leak_groups=("forget_original", "forget_heldout",
                                         "forget_independent", "forget_extraction"))
    thresholds = Thresholds()
    ppl_ref = default_gguf_path() if args.ppl_reference == "base" else None
    rows: list[dict[str, Any]] = []
    before_box: list[Any] = []

    def get_before():
        # lazily, after the first training: a second bench process trains meanwhile
        if not before_box:
            before, before_s = audit_cached(subject, probes, audit_cfg, ppl_ref, args.work, log,
                                            "before")
            before_box.append(before)
            rows.insert(0, row_of("(before)", {}, before, before, None, before_s, thresholds))
            log(f"before: KFR held-out {_f(before[''].kfr_heldout)}, KRR {_f(before[''].krr)}, "
                f"LS {_f(before[''].ls, 3)}, leak {_f(before[''].leak_rate)}")
        return before_box[0]

    result: dict[str, Any] = {
        "bench": "methods", **run_stamp, "deployment": str(args.deployment),
        "subject_model": str(subject), "probe_counts": scenario["probe_counts"],
        "train_data": {"forget": len(data.forget), "relearn": len(data.relearn),
                       "retain": len(data.retain)},
        "audit_config": audit_cfg.to_dict(), "thresholds": thresholds.to_dict(),
        "ppl_reference": args.ppl_reference,
        "probe_settings": dataclasses.asdict(scenario["probe_settings"]),
        "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
        "platform": platform.platform(), "rows": rows,
    }

    def write() -> None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1, default=str))
        args.out.with_suffix(".md").write_text(table(rows) + "\n")

    screen_all = AuditConfig(leak_samples=0, quant_bits=(), batch_size=args.audit_batch)
    screened: list[dict[str, Any]] = []
    result["screen"] = screened

    def train(method: str, settings: dict[str, Any]):
        config = replace(TrainConfig(method=method), **settings)
        # the data is part of the key: changed variants must not reuse an earlier run's adapter
        run_dir = args.work / "runs" / f"{method}-{_digest([config.to_dict(), data])}"
        log(f"{method} {settings}: training")
        t = time.perf_counter()
        last = [t]

        def progress(p) -> None:
            now = time.perf_counter()
            if p.total and (now - last[0] > 60 or p.done == p.total):
                last[0] = now
                log(f"  {method}: {p.stage} step {p.done}/{p.total}"
                    + (f", {p.tokens_per_s:.0f} tokens/s" if p.tokens_per_s else ""))

        try:
            trained = run_unlearning(subject, data, config, run_dir, progress=progress)
        except Exception as exc:  # a failing baseline is a result, not the end of the bench
            log(f"{method} failed: {type(exc).__name__}: {exc}")
            return None, str(exc)
        train_s = trained.record.get("timings", {}).get("total_s", time.perf_counter() - t)
        log(f"{method}: trained in {train_s:.0f}s")
        return trained, train_s

    def screen(method: str, settings: dict[str, Any], trained, train_s: float | None = None
               ) -> tuple:
        """Greedy answers only (no leak sampling, no quantised re-check): cheap enough to try
        every setting of a sweep; returns a sort key, the largest best: KRR kept first, then
        the number of greedy bars met, then KFR + KRR + LS ratio."""
        base, _ = audit_cached(subject, probes, screen_all, ppl_ref, args.work, log,
                               "screen-before")
        figs, _ = audit_cached(trained.merged_dir, probes, screen_all, ppl_ref or subject,
                               args.work, log, f"screen-{method}")
        run, ref = figs[""], base[""]
        ls_ratio = (run.ls or 0.0) / ref.ls if ref.ls else 0.0
        met = sum([(run.kfr or 0) >= thresholds.kfr, (run.krr or 0) >= thresholds.krr,
                   ls_ratio >= thresholds.ls_ratio])
        if not any(e["method"] == "(before)" for e in screened):
            screened.insert(0, {"method": "(before)", "settings": {}, **greedy_figures(ref),
                                "ls_ratio": None, "met": None, "train_s": None,
                                "bf16_autocast": None, "per_request": {}})
        screened.append({"method": method, "settings": settings, **greedy_figures(run),
                         "ls_ratio": ls_ratio, "met": met, "train_s": train_s,
                         "bf16_autocast": trained.record.get("hardware", {}).get(
                             "bf16_autocast"),
                         "per_request": {k: {"kfr_heldout": v.kfr_heldout, "krr": v.krr,
                                             "krr_own": v.krr_own, "ls": v.ls}
                                         for k, v in figs.items() if k}})
        if args.attack:
            attack_cfg = AuditConfig(seed=args.seed, batch_size=args.audit_batch,
                                     leak_samples=args.leak_samples)
            attack, attack_s, control_s = attack_cached(
                trained.merged_dir, default_gguf_path(), probes, attack_cfg, args.work, log,
                method)
            screened[-1].update(relearn_recovery=attack.get("", {}).get("relearn_recovery"),
                                relearn_attack=attack, attack_s=attack_s,
                                control_attack_s=control_s)
            log(f"{method} {settings} relearning attack: recovery above control "
                f"{_f(screened[-1]['relearn_recovery'])} ({attack.get('', {})})")
        log(f"{method} {settings} screen: KFR held-out {_f(run.kfr_heldout)}, KRR "
            f"{_f(run.krr)} (other people {_f(run.krr_subjects)}, generic "
            f"{_f(run.krr_generic)}, own {_f(run.krr_own)}), LS ratio {_f(ls_ratio)} "
            f"({met}/3 greedy bars met)")
        # a setting that wrecked the model's other knowledge is no candidate, however much it
        # forgot (a collapsed model's repetitive text can even score a high LS)
        return ((run.krr or 0) >= thresholds.krr, met,
                (run.kfr or 0) + (run.krr or 0) + min(ls_ratio, 1.0))

    for method in methods:
        grid = [{**g, **overrides} for g in (SWEEPS[method] if args.sweep else [CHOSEN[method]])]
        candidates = []
        for settings in grid:
            trained, train_s = train(method, settings)
            if trained is None:
                rows.append({"method": method, "settings": settings, "error": train_s,
                             **{k: None for k in ("kfr_heldout", "kfr_original", "krr", "ls",
                                                  "ppl", "brunet", "honore", "leak_rate",
                                                  "leak_rate_8bit", "leak_rate_4bit", "passed")},
                             "train_s": None})
                write()
                continue
            candidates.append((settings, trained, train_s))
        if args.greedy_only:
            for settings, trained, train_s in candidates:
                screen(method, settings, trained, train_s)
            write()
            continue
        if args.screen and len(candidates) > 1:
            keyed = [(screen(method, st, tr), i) for i, (st, tr, _) in enumerate(candidates)]
            candidates = [candidates[max(keyed)[1]]]
            log(f"{method}: best of the sweep {candidates[0][0]}")
        for settings, trained, train_s in candidates:
            before = get_before()
            # the relearning attack's control is the base model, as in the application
            figs, audit_s = audit_cached(trained.merged_dir, probes, audit_cfg,
                                         ppl_ref or subject, args.work, log, method,
                                         control=default_gguf_path())
            rows.append(row_of(method, settings, figs, before, train_s, audit_s, thresholds))
            r = rows[-1]
            log(f"{method}: KFR held-out {_f(r['kfr_heldout'])}, KRR {_f(r['krr'])}, "
                f"LS {_f(r['ls'], 3)}, leak {_f(r['leak_rate'])}/{_f(r['leak_rate_4bit'])} "
                f"-> {'verified' if r['passed'] else 'failed: ' + '; '.join(r['reasons'])}")
            write()
    if not args.greedy_only:
        get_before()
    write()
    print()
    print(table(rows))
    print(f"\nwrote {args.out} and {args.out.with_suffix('.md')} "
          f"({time.perf_counter() - started:.0f}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
