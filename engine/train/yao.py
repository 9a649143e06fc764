"""Yao et al. 2023, "Large Language Model Unlearning".

    L = 0.5 * GA(forget) + 1.0 * CE(forget question -> a random retain answer)
        + 1.0 * KL(p_ref || p_theta on retain)

GA(forget) is -CE(forget). The middle term teaches an unrelated but fluent answer to each forget
question; the pairing is drawn once per run from the seed (weights are configurable).
"""

from __future__ import annotations

import random
from typing import ClassVar

from engine.train.base import Method
from engine.train.losses import ce, kl_to_reference
from engine.types import QA


class Yao(Method):
    name = "yao"
    primary = "forget"
    aligned = ("mismatch",)
    sampled = ("retain",)
    reference: ClassVar = frozenset({"retain"})

    def streams(self, data):
        out = super().streams(data)
        rng = random.Random(f"yao:{self.config.seed}")
        answers = [qa.answer for qa in out["retain"]]
        out["mismatch"] = [QA(qa.question, rng.choice(answers)) for qa in out["forget"]]
        return out

    def loss(self, out):
        c = self.config
        terms = {
            "forget_ce": ce(out["forget"]),
            "mismatch_ce": ce(out["mismatch"]),
            "retain_kl": kl_to_reference(out["retain"]),
        }
        total = (-c.yao_ga_weight * terms["forget_ce"] + c.yao_random_weight * terms["mismatch_ce"]
                 + c.kl_weight * terms["retain_kl"])
        return total, terms
