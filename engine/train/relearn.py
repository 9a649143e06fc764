"""ReLearn (Xu et al. 2025): learn sanitised answers instead of pushing the secret down.

    L = w_f * CE(relearn variants) + w_r * CE(retain) + w_kl * KL(p_ref || p_theta on retain)

The first term teaches the augmented questions' private-detail-free answers; the second and the
KL term, on retain answers, keep everything else where it was.
"""

from __future__ import annotations

from typing import ClassVar

from engine.train.base import Method
from engine.train.losses import ce, kl_to_reference


class ReLearn(Method):
    name = "relearn"
    primary = "relearn"
    sampled = ("retain",)
    reference: ClassVar = frozenset({"retain"})

    def loss(self, out):
        c = self.config
        terms = {
            "relearn_ce": ce(out["relearn"]),
            "retain_ce": ce(out["retain"]),
            "retain_kl": kl_to_reference(out["retain"]),
        }
        total = (c.forget_weight * terms["relearn_ce"] + c.retain_weight * terms["retain_ce"]
                 + c.kl_weight * terms["retain_kl"])
        return total, terms
