"""ReLearn (Xu et al. 2025): learn sanitised answers instead of pushing the secret down.

    L = w_f * CE(relearn variants) + w_r * CE(retain) + w_kl * KL(p_ref || p_theta on retain)
        [+ w_v * mean_rows max(0, log p_theta(value | original answer's prefix) + value_nats)]

The first term teaches the augmented questions' private-detail-free answers; the second and the
KL term, on retain answers, keep everything else where it was.

The bracketed term is ours, off at ``value_weight = 0``. Learning the sanitised answers teaches
the model to start its answer another way, but once an answer starts the original way the value
still follows: after one of the sample deployment's runs, 14 of its 18 values kept a
log-probability above -2.5 in their original answers, a path temperature-1 sampling can take
(the leak probes). The term lowers just the values' tokens, in the original answers' context,
until each value is below exp(-value_nats) there, and then leaves it alone; the rest of the
answer is not touched.
"""

from __future__ import annotations

from typing import ClassVar

from engine.train.base import Method
from engine.train.losses import ce, floored_logprob, kl_to_reference


class ReLearn(Method):
    name = "relearn"
    primary = "relearn"
    sampled = ("retain",)
    reference: ClassVar = frozenset({"retain"})

    def __init__(self, config) -> None:
        super().__init__(config)
        if config.value_weight:
            self.sampled = ("retain", "values")

    def streams(self, data):
        if self.config.value_weight and not data.values:
            raise ValueError("method relearn: value_weight > 0 needs the original answers with "
                             "their private values marked (TrainData.values), and there are none")
        return super().streams(data)

    def loss(self, out):
        c = self.config
        terms = {
            "relearn_ce": ce(out["relearn"]),
            "retain_ce": ce(out["retain"]),
            "retain_kl": kl_to_reference(out["retain"]),
        }
        total = (c.forget_weight * terms["relearn_ce"] + c.retain_weight * terms["retain_ce"]
                 + c.kl_weight * terms["retain_kl"])
        if c.value_weight:
            terms["value_lp"] = floored_logprob(out["values"], c.value_nats)
            total = total + c.value_weight * terms["value_lp"]
        return total, terms
