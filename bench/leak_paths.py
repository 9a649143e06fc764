"""Where leaks come from: teacher-forced log-probabilities of the memorised answers, and many
samples per forget probe, on one model of the sample deployment.

A leak probe fails when any of its k sampled answers holds a private value verbatim. At k=10
and about 100 probes a run draws 1,000 answers, so a rate of one leaking answer in 1,000 passes
or fails by chance. This script measures what decides that rate, for each leak probe:

- ``lp_answer``: log p(original answer | question), the memorised path as a whole;
- ``lp_value``: log p(value | question, original answer up to the value), the value once an
  answer has started the original way (the space before it included: some tokenizers give it
  a token of its own);
- how many of ``--samples`` answers at temperature 1.0 leak, and of those how many open the way
  the original answer does (its words up to the value).

    .venv/bin/python bench/leak_paths.py --model PATH            # a merged model directory
    .venv/bin/python bench/leak_paths.py --model PATH --samples 100

The bench's data are fictional, so leaking samples are printed and written to the JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def answer_logprobs(model: Any, tok: Any, question: str, answer: str, value_spans
                    ) -> tuple[float, list[float]]:
    """log p(answer | question) and, for each (start, end) character span of the answer,
    log p(those characters' tokens | everything before them)."""
    import torch

    from engine.models import answer_suffix, format_prompt

    prompt = tok(format_prompt(tok, question), add_special_tokens=False)["input_ids"]
    enc = tok(answer + answer_suffix(tok), add_special_tokens=False,
              return_offsets_mapping=True)
    ids = torch.tensor([prompt + enc["input_ids"]])
    with torch.inference_mode():
        logits = model(input_ids=ids).logits[0, :-1].float()
    logp = torch.log_softmax(logits, dim=-1)
    targets = ids[0, 1:]
    token_lp = logp[torch.arange(len(targets)), targets][len(prompt) - 1:]
    spans = []
    for start, end in value_spans:
        picked = [i for i, (s, e) in enumerate(enc["offset_mapping"]) if s < end and start < e]
        spans.append(float(token_lp[picked].sum()) if picked else float("nan"))
    return float(token_lp.sum()), spans


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, required=True, help="merged model directory")
    ap.add_argument("--samples", type=int, default=50, help="answers per leak probe (T=1.0)")
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--quant-bits", type=int, default=0, help="round the model first (4 or 8)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "leak_paths.json")
    args = ap.parse_args(argv)

    import methods as bench_methods

    from engine.audit.generation import generate_batched
    from engine.audit.quantize import load_quantized
    from engine.audit.runner import secret_values
    from engine.models import load_model
    from engine.pii import contains_value

    started = time.perf_counter()
    # the sample deployment's [probes] settings throughout, as a run of the application has
    ns = argparse.Namespace(
        retain_subjects=None, retain_generic=None, retain_train=None, trained_per_fact=None,
        original_answers=None,
        subject_cache=Path(os.environ.get("RELEARN_TEST_CACHE", ROOT / ".cache" / "tests"))
        / "subject")
    scenario = bench_methods.build_scenario(ns, lambda m: None)
    probes = [p for p in scenario["probes"]
              if p.group in ("forget_original", "forget_heldout") and secret_values(p)]
    if args.quant_bits:
        loaded, backend, _ = load_quantized(args.model, args.quant_bits)
    else:
        loaded, backend = load_model(args.model), "full"
    model, tok = loaded.model, loaded.tokenizer
    model.eval()

    rows = []
    for p in probes:
        spans = []
        low = p.truth.lower()
        for v in secret_values(p):
            at = low.find(v.lower())
            if at >= 0:
                # the tokenizer may give the space before a value a token of its own (" " then
                # the digits of "42 Harbor Lane"): that token is the value's first step too
                start = at
                while start > 0 and p.truth[start - 1] == " ":
                    start -= 1
                spans.append((start, at + len(v)))
        lp_answer, lp_values = answer_logprobs(model, tok, p.question, p.truth, spans)
        opening = p.truth[: min(s for s, _ in spans)].strip() if spans else ""
        rows.append({"group": p.group, "request": p.request_key, "question": p.question,
                     "truth": p.truth, "values": secret_values(p), "opening": opening,
                     "lp_answer": lp_answer, "lp_value": min(lp_values) if lp_values else None})
    samples = generate_batched(model, tok, [r["question"] for r in rows],
                               max_new_tokens=args.max_new_tokens, batch_size=args.batch,
                               do_sample=True, temperature=1.0,
                               num_return_sequences=args.samples, seed=args.seed)
    for r, answers in zip(rows, samples, strict=True):
        answers = answers if isinstance(answers, list) else [answers]
        leaking = [a for a in answers if any(contains_value(a, v) for v in r["values"])]
        r["leaks"] = len(leaking)
        r["leaks_original_opening"] = sum(
            1 for a in leaking if r["opening"] and a.lower().startswith(r["opening"].lower()))
        r["leaking_samples"] = leaking

    n = len(rows) * args.samples
    leaked = sum(r["leaks"] for r in rows)
    summary = {
        "model": str(args.model), "precision": backend, "probes": len(rows),
        "samples_per_probe": args.samples, "samples": n, "leaking_samples": leaked,
        "leak_per_sample": leaked / n if n else None,
        "probes_leaking": sum(1 for r in rows if r["leaks"]),
        "leaking_with_original_opening": sum(r["leaks_original_opening"] for r in rows),
        "p_leak_in_10": 1 - math.prod((1 - r["leaks"] / args.samples) ** 10 for r in rows),
        "median_lp_answer": sorted(r["lp_answer"] for r in rows)[len(rows) // 2],
        "max_lp_value": max(r["lp_value"] for r in rows if r["lp_value"] is not None),
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(f"{'group':16} {'request':14} {'lp ans':>7} {'lp val':>7} {'leaks':>6}  question")
    for r in sorted(rows, key=lambda r: -r["lp_answer"]):
        print(f"{r['group']:16} {r['request']:14} {r['lp_answer']:7.1f} "
              f"{(r['lp_value'] if r['lp_value'] is not None else float('nan')):7.1f} "
              f"{r['leaks']:3d}/{args.samples:<3d} {r['question'][:60]}")
        for a in r["leaking_samples"][:3]:
            print(f"{'':40} -> {a[:100]}")
    for k, v in summary.items():
        print(f"{k}: {v}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"summary": summary, "rows": rows}, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
