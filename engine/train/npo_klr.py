"""NPO plus a KL anchor on the retain answers.

    L = w_f * NPO(forget) + w_kl * KL(p_ref || p_theta on retain)
"""

from __future__ import annotations

from typing import ClassVar

from engine.train.losses import kl_to_reference
from engine.train.npo import NPO


class NPOKLRetain(NPO):
    name = "npo_klr"
    sampled = ("retain",)
    reference: ClassVar = frozenset({"forget", "retain"})

    def loss(self, out):
        _, terms = super().loss(out)
        terms["retain_kl"] = kl_to_reference(out["retain"])
        c = self.config
        return c.forget_weight * terms["forget_npo"] + c.kl_weight * terms["retain_kl"], terms
