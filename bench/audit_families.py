"""What each stage of the audit costs (issue 22): the staged audit of the application
(engine.audit.stages.audit_families) on the sample deployment's probes, as the builder makes
them, on a model you name (by default the deployed subject model the app built and cached).

Prints each stage's seconds, its share of the core stage's, and every family's figures; writes
JSON to bench/results/audit_families.json. Timings on a shared machine are noisy: read the
ratios to the core stage, taken in one run.

    .venv/bin/python bench/audit_families.py --model ~/.relearn/models/subject/<hash>
    .venv/bin/python bench/audit_families.py --quant-bits 4 --control smollm2  # + the attack
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _subject() -> Path:
    home = Path(os.environ.get("RELEARN_HOME", Path.home() / ".relearn"))
    found = sorted((home / "models" / "subject").glob("*/config.json"))
    if not found:
        raise SystemExit(f"no built subject model under {home}/models/subject; pass --model")
    return found[-1].parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, help="model to audit (default: the cached subject)")
    ap.add_argument("--leak-samples", type=int, default=10)
    ap.add_argument("--quant-bits", default="", help="re-check precisions, e.g. 8,4 (default "
                    "none: the audit before unlearning)")
    ap.add_argument("--control", help="the relearning attack's control (the base model); "
                    "unset: no attack")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" /
                    "audit_families.json")
    args = ap.parse_args(argv)

    import torch

    from bench.sample_inputs import sample_run_inputs
    from engine.audit.stages import STAGES, audit_families
    from engine.models import hardware

    if args.threads:
        torch.set_num_threads(args.threads)
    model = args.model or _subject()
    inputs = sample_run_inputs()
    dep = inputs["deployment"]
    config = dataclasses.replace(
        dep.audit, leak_samples=args.leak_samples,
        quant_bits=tuple(int(b) for b in args.quant_bits.split(",") if b))
    probes = inputs["probes"]
    counts: dict[str, int] = {}
    for p in probes:
        counts[p.group] = counts.get(p.group, 0) + 1
    started = time.perf_counter()
    last = [0.0]

    def progress(p) -> None:
        now = time.perf_counter()
        if now - last[0] > 30 or p.done == p.total:
            last[0] = now
            print(f"[{now - started:6.0f}s] {p.stage} {p.done}/{p.total}", flush=True)

    figs = audit_families(model, probes, config, reference=dep.base_model, progress=progress,
                          control=args.control)
    run = figs[""]
    core = run.stage_seconds.get("core") or 0.0
    print("\n| stage | seconds | x core |\n|---|---|---|")
    for stage in STAGES:
        if stage in run.stage_seconds:
            s = run.stage_seconds[stage]
            print(f"| {stage} | {s:.1f} | {s / core if core else 0:.2f} |")
    print("\n| family | probes | KFR | leak | leak 4-bit |\n|---|---|---|---|---|")
    for family, f in run.families.items():
        cells = [f.get(k) for k in ("kfr", "leak_rate", "leak_rate_4bit")]
        print(f"| {family} | {f['n']} | " + " | ".join(
            "-" if c is None else f"{c:.3f}" for c in cells) + " |")
    print(f"\nKFR worst {run.kfr_worst} ({run.kfr_worst_family}), leak worst "
          f"{run.leak_rate_worst} ({run.leak_rate_worst_family}), MIA AUC {run.mia_auc}, "
          f"relearning recovery {run.relearn_recovery}")
    result: dict[str, Any] = {
        "bench": "audit_families", "model": str(model), "probe_counts": counts,
        "audit_config": config.to_dict(), "control": args.control,
        "stage_seconds": run.stage_seconds, "figures": run.to_dict(),
        "hardware": hardware(), "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, default=str))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
