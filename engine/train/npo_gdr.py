"""NPO plus cross-entropy on the retain answers.

    L = w_f * NPO(forget) + w_r * CE(retain)
"""

from __future__ import annotations

from engine.train.losses import ce
from engine.train.npo import NPO


class NPOGradientDescentRetain(NPO):
    name = "npo_gdr"
    sampled = ("retain",)

    def loss(self, out):
        _, terms = super().loss(out)
        terms["retain_ce"] = ce(out["retain"])
        c = self.config
        return c.forget_weight * terms["forget_npo"] + c.retain_weight * terms["retain_ce"], terms
