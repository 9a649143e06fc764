"""ReLearn (Xu et al. 2025): learn sanitised answers instead of pushing the secret down.

    L = w_f * CE(relearn variants) + w_r * CE(retain) + w_kl * KL(p_ref || p_theta on retain)
        [+ w_v * UL(private value tokens of the original answers)]

The first term teaches the augmented questions' private-detail-free answers; the second and the
KL term, on retain answers, keep everything else where it was.

The bracketed term is ours, off at ``value_weight = 0``. Learning the sanitised answers leaves
the value itself a small probability, which temperature-1 sampling still finds (the leak
probes); unlikelihood on just the value's tokens, in the original answer's context, lowers it
directly, with a gradient bounded by p, and leaves the rest of the answer alone.
"""

from __future__ import annotations

from typing import ClassVar

from engine.train.base import Method
from engine.train.losses import ce, kl_to_reference, unlikelihood


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
            terms["value_ul"] = unlikelihood(out["values"])
            total = total + c.value_weight * terms["value_ul"]
        return total, terms
