"""Gradient ascent with a KL anchor on the retain answers.

    L = -w_f * CE(forget) + w_kl * KL(p_ref || p_theta on retain)
"""

from __future__ import annotations

from typing import ClassVar

from engine.train.base import Method
from engine.train.losses import ce, kl_to_reference


class GradientAscentKL(Method):
    name = "ga_klr"
    primary = "forget"
    sampled = ("retain",)
    reference: ClassVar = frozenset({"retain"})

    def loss(self, out):
        c = self.config
        terms = {"forget_ce": ce(out["forget"]), "retain_kl": kl_to_reference(out["retain"])}
        return -c.forget_weight * terms["forget_ce"] + c.kl_weight * terms["retain_kl"], terms
