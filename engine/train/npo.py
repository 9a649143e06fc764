"""Negative preference optimisation (Zhang et al. 2024) on the forget answers.

    L = -(2 / beta) * mean_i log sigmoid(-beta * (log p_theta(y_i|x_i) - log p_ref(y_i|x_i)))

with sequence log-probabilities of the answers and p_ref the model with its adapter disabled.
Unlike gradient ascent the loss saturates once p_theta falls well below p_ref.
"""

from __future__ import annotations

from typing import ClassVar

from engine.train.base import Method
from engine.train.losses import npo


class NPO(Method):
    name = "npo"
    primary = "forget"
    reference: ClassVar = frozenset({"forget"})

    def loss(self, out):
        terms = {"forget_npo": npo(out["forget"], self.config.npo_beta)}
        return self.config.forget_weight * terms["forget_npo"], terms
