"""Batched greedy generation (left padding, KV cache) against one question at a time.

Same model, same probes, same process: the audit's probe questions (the sample requests' facts
first, then the rest of the sample corpus) answered greedily, once one by one and once in
batches. Prints a table and writes bench/results/generation.json. Target: batched >= 4x.

    .venv/bin/python bench/generation.py [--model DIR] [--n 64] [--batch-size 32] [--threads 1]
    .venv/bin/python bench/generation.py --paths [--model DIR] [--n 24] [--repeats 2]

``--paths`` compares instead the audit's own decoding loop with ``model.generate`` (what the
audit used before), on the audit's settings: greedy answers (48 tokens, batch 128) and the leak
probes' sampling (10 answers per question at temperature 1, 40 tokens, batch 128), the two
paths alternating ``--repeats`` times so that a busy machine's load falls on both alike.
Writes bench/results/generation-paths.json.

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


def compare_paths(args: argparse.Namespace) -> int:
    """Own decoding loop against model.generate, alternating, on the audit's settings."""
    import contextlib
    import statistics

    import torch

    from engine.audit.config import AuditConfig
    from engine.audit.generation import COUNTS, generate_batched, hf_generate_path
    from engine.models import hardware, load_model

    cfg = AuditConfig()
    loaded = load_model(args.model or default_model())
    tok = loaded.tokenizer
    questions = sample_questions(args.n)
    generate_batched(loaded.model, tok, questions[:2], max_new_tokens=4, batch_size=2)
    runs: dict[str, dict[str, list]] = {p: {"greedy_s": [], "sample_s": [], "greedy": [],
                                            "counts": []} for p in ("generate", "own")}
    for r in range(args.repeats):
        for path in ("generate", "own") if r % 2 == 0 else ("own", "generate"):
            ctx = hf_generate_path() if path == "generate" else contextlib.nullcontext()
            with ctx:
                COUNTS.reset()
                t = time.perf_counter()
                greedy = generate_batched(loaded.model, tok, questions,
                                          max_new_tokens=cfg.max_new_tokens,
                                          batch_size=cfg.batch_size)
                runs[path]["greedy_s"].append(time.perf_counter() - t)
                t = time.perf_counter()
                generate_batched(loaded.model, tok, questions,
                                 max_new_tokens=cfg.leak_max_new_tokens,
                                 batch_size=cfg.batch_size, do_sample=True,
                                 temperature=cfg.temperature,
                                 num_return_sequences=cfg.leak_samples, seed=r)
                runs[path]["sample_s"].append(time.perf_counter() - t)
                runs[path]["greedy"].append(greedy)
                runs[path]["counts"].append(COUNTS.snapshot())
            print(f"repeat {r + 1} {path}: greedy {runs[path]['greedy_s'][-1]:.1f} s, "
                  f"sampling {runs[path]['sample_s'][-1]:.1f} s", flush=True)
    med = {p: {k: round(statistics.median(v[k]), 2) for k in ("greedy_s", "sample_s")}
           for p, v in runs.items()}
    same = sum(a == b for a, b in zip(runs["own"]["greedy"][0], runs["generate"]["greedy"][0],
                                      strict=True))
    result = {
        "bench": "generation-paths", "model": str(loaded.source),
        "hardware": hardware("cpu"), "torch_threads": torch.get_num_threads(),
        "load_avg_1m": os.getloadavg()[0], "questions": len(questions),
        "repeats": args.repeats, "audit": cfg.to_dict(), "median_s": med,
        "all_s": {p: {k: [round(x, 2) for x in v[k]] for k in ("greedy_s", "sample_s")}
                  for p, v in runs.items()},
        "counts": {p: v["counts"][0] for p, v in runs.items()},
        "identical_greedy_answers": same,
        "ratio_greedy": round(med["own"]["greedy_s"] / med["generate"]["greedy_s"], 3),
        "ratio_sampling": round(med["own"]["sample_s"] / med["generate"]["sample_s"], 3),
    }
    print(f"greedy: own/generate {result['ratio_greedy']}, sampling: own/generate "
          f"{result['ratio_sampling']} (medians of {args.repeats}); identical greedy answers "
          f"{same}/{len(questions)}; positions computed {result['counts']}")
    out = ROOT / "bench" / "results" / "generation-paths.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"wrote {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="model dir or GGUF (default: subject model)")
    ap.add_argument("--n", type=int, default=64, help="number of probe questions")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: leave as is)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "generation.json")
    ap.add_argument("--paths", action="store_true",
                    help="compare the own decoding loop with model.generate (see above)")
    ap.add_argument("--repeats", type=int, default=2, help="with --paths: alternations")
    args = ap.parse_args(argv)
    if args.paths:
        return compare_paths(args)

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
