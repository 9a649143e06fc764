"""How fluent the offline augmenter's sanitised answers read to the base model.

ReLearn trains the model to give these answers, so after unlearning its answers to the forget
probes are drawn from them, and LS (docs/design.md §5.5) scores them: perplexity under the base
model and Brunet's index, against the factual answers the model gave before. An answer pool the
base model finds unlikely, or long and repetitive, costs LS whatever the training does.

For every sample fact this asks each of its rendered questions (forward: simple and contextual;
reverse: logical) with every answer of both pools, because a trained model does not always pick
an answer of the question's own kind. It prints, per relation, the mean PPL for forward answers
to forward questions, reverse answers to reverse questions and each mismatch, with the facts'
own answers beside them, and writes bench/results/answer_fluency.json.

    .venv/bin/python bench/answer_fluency.py            # the table
    .venv/bin/python bench/answer_fluency.py --each     # also every answer, worst first
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--each", action="store_true", help="list every answer with its mean PPL")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: leave as is)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "answer_fluency.json")
    args = ap.parse_args()

    import torch

    from bench.sample_inputs import sample_requests
    from engine.audit.fluency import brunet, linguistic_score, perplexities
    from engine.augment.offline import build_plan
    from engine.models import load_model

    if args.threads:
        torch.set_num_threads(args.threads)
    facts = [f for r in sample_requests() for f in r.facts]
    # (relation, question kind, answer kind, answer template id, question, answer)
    rows: list[tuple[str, str, str, str, str, str]] = []
    for f in facts:
        plan = build_plan(f)
        rel = plan.relation.key
        forward = [f.question, *plan.simple, *plan.contextual]
        asked = {"fwd": forward, "rev": list(plan.logical)}
        pools = {"fwd": plan.answers, "rev": plan.logical_answers, "fact": (f.answer,)}
        for q_kind, questions in asked.items():
            for a_kind, pool in pools.items():
                if a_kind == "fact" and q_kind == "rev":
                    continue
                for j, answer in enumerate(pool):
                    rows += [(rel, q_kind, a_kind, f"{rel}/{a_kind}/{j}", q, answer)
                             for q in questions]
    t = time.perf_counter()
    base = load_model(None)
    ppl = perplexities(base.model, base.tokenizer, [r[4] for r in rows], [r[5] for r in rows])
    seconds = time.perf_counter() - t

    cells: dict[tuple[str, str, str], list[tuple[float, float]]] = defaultdict(list)
    per_answer: dict[str, list[float]] = defaultdict(list)
    example: dict[str, str] = {}
    for (rel, q_kind, a_kind, tid, _, answer), p in zip(rows, ppl, strict=True):
        point = (p or 0.0, brunet(answer) or 0.0)
        cells[(rel, q_kind, a_kind)].append(point)
        cells[("all", q_kind, a_kind)].append(point)
        if a_kind != "fact":
            per_answer[f"{tid} to {q_kind}"].append(p or 0.0)
            example.setdefault(tid, answer)
    table = []
    for (rel, q_kind, a_kind), xs in sorted(cells.items(), key=lambda kv: (kv[0][0] == "all",
                                                                           kv[0])):
        mp, mb = statistics.mean(x[0] for x in xs), statistics.mean(x[1] for x in xs)
        # Honore's component is close to 1 for any short answer; held at 1 here, the LS
        # column shows what PPL and Brunet alone allow
        table.append({"relation": rel, "question": q_kind, "answer": a_kind, "n": len(xs),
                      "ppl": mp, "brunet": mb, "ls_ppl_brunet": linguistic_score(mp, mb, 1e9)})
    print(f"{'relation':<9} {'question':<8} {'answer':<6} {'n':>5} {'PPL':>7} {'Brunet':>7} "
          f"{'LS*':>7}")
    for r in table:
        print(f"{r['relation']:<9} {r['question']:<8} {r['answer']:<6} {r['n']:>5} "
              f"{r['ppl']:>7.1f} {r['brunet']:>7.2f} {r['ls_ppl_brunet']:>7.4f}")
    print("fwd: forward questions and sanitised answers; rev: reverse (logical) ones; fact: the "
          "fact's own answer. LS*: LS with Honore's component taken as 1.")
    if args.each:  # sanitised answers only: the facts' answers hold the private values
        for key, xs in sorted(per_answer.items(), key=lambda kv: -statistics.mean(kv[1])):
            print(f"{statistics.mean(xs):7.1f}  {key:<22} {example[key.split(' ')[0]]}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"bench": "answer_fluency", "seconds": seconds,
                                    "rows": table}, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
