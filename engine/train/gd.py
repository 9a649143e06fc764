"""Gradient difference: ascend on the forget answers, descend on the retain answers.

    L = -w_f * CE(forget) + w_r * CE(retain)
"""

from __future__ import annotations

from engine.train.base import Method
from engine.train.losses import ce


class GradientDifference(Method):
    name = "gd"
    primary = "forget"
    sampled = ("retain",)

    def loss(self, out):
        c = self.config
        terms = {"forget_ce": ce(out["forget"]), "retain_ce": ce(out["retain"])}
        return -c.forget_weight * terms["forget_ce"] + c.retain_weight * terms["retain_ce"], terms
