"""Batched greedy generation (left padding, KV cache) against one question at a time.

Same model, same probes, same process: the audit's probe questions (the sample requests' facts
first, then the rest of the sample corpus) answered greedily, once one by one and once in
batches. Prints a table and writes bench/results/generation.json. Target: batched >= 4x.

    .venv/bin/python bench/generation.py [--model DIR] [--n 64] [--batch-size 32] [--threads 1]

The model defaults to the cached subject model (tests' cache) when there is one, else the
bundled SmolLM2-135M-Instruct.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def sample_questions(n: int) -> list[str]:
    """The sample requests' fact questions, then other corpus questions, ``n`` in all."""
    from bench.sample_inputs import sample_deployment, sample_requests
    from relearn_tui.deployment import load_corpus

    questions = [f.question for r in sample_requests() for f in r.facts]
    questions += [qa.question for qa in load_corpus(sample_deployment().corpus)]
    return list(dict.fromkeys(questions))[:n]


def default_model() -> str:
    cache = Path(os.environ.get("RELEARN_TEST_CACHE", ROOT / ".cache" / "tests")) / "subject"
    built = sorted(p.parent for p in cache.glob("*/subject.json"))
    return str(built[0]) if built else "smollm2"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="model dir or GGUF (default: subject model)")
    ap.add_argument("--n", type=int, default=64, help="number of probe questions")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: leave as is)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "generation.json")
    args = ap.parse_args(argv)

    import torch

    from engine.audit.generation import generate_batched, generate_one_by_one
    from engine.models import load_model

    if args.threads:
        torch.set_num_threads(args.threads)
    spec = args.model or default_model()
    t = time.perf_counter()
    loaded = load_model(spec)
    load_s = time.perf_counter() - t
    questions = sample_questions(args.n)
    tok = loaded.tokenizer
    # warm both paths (first calls pay for lazy init)
    generate_batched(loaded.model, tok, questions[:2], max_new_tokens=4, batch_size=2)
    generate_one_by_one(loaded.model, tok, questions[:1], max_new_tokens=4)

    t = time.perf_counter()
    single = generate_one_by_one(loaded.model, tok, questions, max_new_tokens=args.max_new_tokens)
    single_s = time.perf_counter() - t
    t = time.perf_counter()
    batched = generate_batched(loaded.model, tok, questions, max_new_tokens=args.max_new_tokens,
                               batch_size=args.batch_size)
    batched_s = time.perf_counter() - t

    def n_tokens(texts: list[str]) -> int:
        return sum(len(tok(x, add_special_tokens=False).input_ids) for x in texts)

    same = sum(a == b for a, b in zip(single, batched, strict=True))
    result = {
        "bench": "generation",
        "model": str(loaded.source),
        "device": str(loaded.device),
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "load_avg_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "platform": platform.platform(),
        "questions": len(questions),
        "batch_size": args.batch_size,
        "max_new_tokens": args.max_new_tokens,
        "model_load_s": round(load_s, 2),
        "one_by_one_s": round(single_s, 2),
        "batched_s": round(batched_s, 2),
        "speedup": round(single_s / batched_s, 2),
        "one_by_one_tokens_per_s": round(n_tokens(single) / single_s, 1),
        "batched_tokens_per_s": round(n_tokens(batched) / batched_s, 1),
        "identical_answers": same,
        "target_speedup": 4.0,
    }
    rows = [
        ("path", "seconds", "s/question", "tokens/s"),
        ("one by one", f"{single_s:.1f}", f"{single_s / len(questions):.3f}",
         f"{result['one_by_one_tokens_per_s']:.0f}"),
        (f"batched ({args.batch_size})", f"{batched_s:.1f}",
         f"{batched_s / len(questions):.3f}", f"{result['batched_tokens_per_s']:.0f}"),
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
    print(f"speedup {result['speedup']}x (target >= 4x); identical greedy answers {same}/"
          f"{len(questions)}; model {result['model']}; {result['torch_threads']} thread(s), "
          f"load average {result['load_avg_1m']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
