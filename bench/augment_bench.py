"""Augmentation figures for the sample requests: variants per fact, share flagged, seconds per
request (offline backend, presidio on). Prints a table and writes bench/results/augment.json.

Run: .venv/bin/python bench/augment_bench.py [--repeat N] [--seed S]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.augment import AugmentConfig, augment_facts, summarise  # noqa: E402
from engine.pii import analyzer  # noqa: E402
from engine.types import Fact  # noqa: E402


def sample_requests() -> list[tuple[str, list[Fact]]]:
    reqs = [json.loads(p.read_text()) for p in sorted((ROOT / "sample_requests").glob("*.json"))]
    for p in sorted((ROOT / "sample_requests").glob("*.jsonl")):
        if p.name != "corpus.jsonl":
            reqs += [json.loads(line) for line in p.read_text().splitlines() if line.strip()]
    return [
        (r["request_id"], [Fact(f"{r['request_id']}/{i}", r["subject"]["name"], f["question"],
                                f["answer"]) for i, f in enumerate(r["facts"])])
        for r in reqs
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per request")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    started = time.perf_counter()
    analyzer()  # presidio + spaCy load once per process; reported apart from per-request time
    load_s = time.perf_counter() - started

    config = AugmentConfig(seed=args.seed, use_presidio=True)
    rows = []
    for request_id, facts in sample_requests():
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
