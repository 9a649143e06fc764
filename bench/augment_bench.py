"""Augmentation figures for the sample requests: variants per fact, share flagged, seconds per
request (offline backend, presidio on). Prints a table and writes bench/results/augment.json.

Run: .venv/bin/python bench/augment_bench.py [--repeat N] [--seed S]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.sample_inputs import sample_deployment, sample_requests  # noqa: E402
from engine.augment import augment_facts, summarise  # noqa: E402
from engine.pii import analyzer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per request")
    parser.add_argument("--seed", type=int, default=None,
                        help="augmentation seed (default: the sample deployment's)")
    args = parser.parse_args()

    started = time.perf_counter()
    analyzer()  # presidio + spaCy load once per process; reported apart from per-request time
    load_s = time.perf_counter() - started

    # the sample deployment's [augment] settings, as the application augments with
    config = sample_deployment().augment
    config = dataclasses.replace(config, use_presidio=True,
                                 seed=config.seed if args.seed is None else args.seed)
    rows = []
    for req in sample_requests():
        request_id, facts = req.request_id, list(req.facts)
        times, variants = [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            variants = augment_facts(facts, config)
            times.append(time.perf_counter() - t0)
        s = summarise(variants)
        rows.append({
            "request": request_id,
            "facts": len(facts),
            "items": s["items"],
            "question_variants_per_fact": s["question_variants_per_fact"],
            "items_per_fact": round(s["items"] / len(facts), 2),
            "held_out": s["held_out"],
            "flagged": s["flagged"],
            "flagged_share": s["flagged_share"],
            "regenerated": s["regenerated"],
            "seconds_median": round(statistics.median(times), 3),
            "seconds_min": round(min(times), 3),
        })

    header = ("request", "facts", "variants/fact", "items/fact", "held out", "flagged",
              "flagged %", "regenerated", "s/request (median)")
    print(f"presidio + spaCy load: {load_s:.1f} s (once per process)")
    print(" | ".join(header))
    for r in rows:
        print(" | ".join(str(x) for x in (
            r["request"], r["facts"], r["question_variants_per_fact"], r["items_per_fact"],
            r["held_out"], r["flagged"], f"{100 * r['flagged_share']:.1f}", r["regenerated"],
            r["seconds_median"])))
    out = ROOT / "bench" / "results" / "augment.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "backend": "offline", "use_presidio": True, "seed": args.seed, "repeat": args.repeat,
        "presidio_load_s": round(load_s, 2), "machine": platform.machine(),
        "python": platform.python_version(), "requests": rows,
    }, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
