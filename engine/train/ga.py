"""Gradient ascent: raise the loss of the forget answers.

    L = -w_f * CE(forget)
"""

from __future__ import annotations

from engine.train.base import Method
from engine.train.losses import ce


class GradientAscent(Method):
    name = "ga"
    primary = "forget"

    def loss(self, out):
        terms = {"forget_ce": ce(out["forget"])}
        return -self.config.forget_weight * terms["forget_ce"], terms
