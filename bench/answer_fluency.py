"""How fluent the offline augmenter's sanitised answers read to the base model.

ReLearn trains the model to give these answers, so after unlearning its answers to the forget
probes look like them, and LS (DESIGN section 5) scores them: perplexity under the base model
and Brunet's index, against the factual answers the model gave before. An answer pool that the
base model finds unlikely, or that is long and repetitive, costs LS whatever the training does.
This prints, per relation, the mean PPL and Brunet of every rendered answer template of the
sample facts (asked with the fact's own question; reverse answers with a reverse question) next
to the facts' own answers, and writes bench/results/answer_fluency.json.

    .venv/bin/python bench/answer_fluency.py            # the table
    .venv/bin/python bench/answer_fluency.py --each     # also every answer, worst first
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--each", action="store_true", help="list every answer with its PPL")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: leave as is)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "answer_fluency.json")
    args = ap.parse_args()

    import torch
    from methods import _read_requests

    from engine.audit.fluency import brunet, linguistic_score, perplexities
    from engine.augment import with_private_values
    from engine.augment.offline import build_plan
    from engine.models import load_model
    from engine.types import Fact

    if args.threads:
        torch.set_num_threads(args.threads)
    facts = [with_private_values(Fact(f"{rid}-{i}", name, q, a))
             for rid, name, pairs in _read_requests() for i, (q, a) in enumerate(pairs)]
    rows: list[tuple[str, str, str, str]] = []  # (pool, relation, question, answer)
    for f in facts:
        plan = build_plan(f)
        rows.append(("fact", plan.relation.key, f.question, f.answer))
        rows += [("answers", plan.relation.key, f.question, a) for a in plan.answers]
        if plan.logical:
            rows += [("logical", plan.relation.key, plan.logical[0], a)
                     for a in plan.logical_answers]
    t = time.perf_counter()
    base = load_model(None)
    ppl = perplexities(base.model, base.tokenizer, [r[2] for r in rows], [r[3] for r in rows])
    seconds = time.perf_counter() - t

    groups: dict[tuple[str, str], list[tuple[float, float, str]]] = {}
    for (pool, rel, _, answer), p in zip(rows, ppl, strict=True):
        for key in ((pool, rel), (pool, "all")):
            groups.setdefault(key, []).append((p or 0.0, brunet(answer) or 0.0, answer))
    table = []
    for (pool, rel), xs in sorted(groups.items(), key=lambda kv: (kv[0][1] == "all", kv[0])):
        mp = statistics.mean(x[0] for x in xs)
        mb = statistics.mean(x[1] for x in xs)
        # Honore is large for every short answer (its component is about 1), so it is held at
        # 1 here: the LS column shows what PPL and Brunet alone allow
        table.append({"pool": pool, "relation": rel, "n": len(xs), "ppl": mp, "brunet": mb,
                      "ls_ppl_brunet": linguistic_score(mp, mb, 1e9)})
    print(f"{'pool':<8} {'relation':<9} {'n':>4} {'PPL':>7} {'Brunet':>7} {'LS*':>7}")
    for r in table:
        print(f"{r['pool']:<8} {r['relation']:<9} {r['n']:>4} {r['ppl']:>7.1f} "
              f"{r['brunet']:>7.2f} {r['ls_ppl_brunet']:>7.4f}")
    print("LS*: LS with the Honore component taken as 1. 'fact': the facts' own answers "
          "(not listed with --each: they hold the private values).")
    if args.each:
        for (pool, rel), xs in sorted(groups.items()):
            if pool == "fact" or rel == "all":
                continue
            print(f"== {pool} {rel}")
            for p, b, answer in sorted(set(xs), reverse=True):
                print(f"  {p:6.1f} {b:5.2f}  {answer}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"bench": "answer_fluency", "seconds": seconds,
                                    "rows": table}, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
