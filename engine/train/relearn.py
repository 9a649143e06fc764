"""ReLearn (Xu et al. 2025): learn sanitised answers instead of pushing the secret down.

    L = w_f * CE(relearn variants) + w_r * CE(retain) + w_kl * KL(p_ref || p_theta on retain)
        [+ w_n * CE(neighbour of each relearn row)]
        [+ w_v * mean_rows max(0, log p_theta(value | original answer's prefix) + value_nats)]

The first term teaches the augmented questions' private-detail-free answers; the second and the
KL term, on retain answers, keep everything else where it was.

The bracketed terms are ours. The neighbour term (off at ``neighbour_weight = 0``) pairs each
relearn row with the retain row whose question is nearest (all-MiniLM-L6-v2, questions only),
most often the same relation asked about someone else, and trains its true answer in the same
step. Without it the sanitised answers were learnt by relation, not by person: on the second
sample, with few other people's pairs to retain, the run answered "has not agreed to share"
to every author's email and address question.

The value term is off at ``value_weight = 0``. Learning the sanitised answers teaches
the model to start its answer another way, but once an answer starts the original way the value
still follows: after one of the sample deployment's runs, 14 of its 18 values kept a
log-probability above -2.5 in their original answers, a path temperature-1 sampling can take
(the leak probes). The term lowers just the values' tokens, in the original answers' context,
until each value is below exp(-value_nats) there, and then leaves it alone; the rest of the
answer is not touched.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from engine.train.base import Method
from engine.train.losses import ce, floored_logprob, kl_to_reference
from engine.types import QA


def neighbours(rows: Sequence[QA], retain: Sequence[QA], subjects: Sequence[str]) -> list[QA]:
    """For each row, the retain row whose question is nearest, among those about none of
    ``subjects`` when there are any: by embedding, a question on the forgotten person's other
    facts is nearer than the same relation asked about someone else, the contrast wanted."""
    from engine.augment.retain import about, people_patterns
    from engine.train.icu import nearest_neighbours

    people = people_patterns(subjects)
    pool = [qa for qa in retain if not about(qa, people)] or list(retain)
    return [pool[j] for j in nearest_neighbours(rows, pool, questions_only=True)]


class ReLearn(Method):
    name = "relearn"
    primary = "relearn"
    sampled = ("retain",)
    reference: ClassVar = frozenset({"retain"})

    def __init__(self, config) -> None:
        super().__init__(config)
        if config.value_weight:
            self.sampled = ("retain", "values")
        if config.neighbour_weight:
            self.aligned = ("neighbour",)

    def streams(self, data):
        if self.config.value_weight and not data.values:
            raise ValueError("method relearn: value_weight > 0 needs the original answers with "
                             "their private values marked (TrainData.values), and there are none")
        out = super().streams(data)
        if self.config.neighbour_weight:
            out["neighbour"] = neighbours(out["relearn"], out["retain"], data.subjects)
        return out

    def loss(self, out):
        c = self.config
        terms = {
            "relearn_ce": ce(out["relearn"]),
            "retain_ce": ce(out["retain"]),
            "retain_kl": kl_to_reference(out["retain"]),
        }
        total = (c.forget_weight * terms["relearn_ce"] + c.retain_weight * terms["retain_ce"]
                 + c.kl_weight * terms["retain_kl"])
        if c.neighbour_weight:
            terms["neighbour_ce"] = ce(out["neighbour"])
            total = total + c.neighbour_weight * terms["neighbour_ce"]
        if c.value_weight:
            terms["value_lp"] = floored_logprob(out["values"], c.value_nats)
            total = total + c.value_weight * terms["value_lp"]
        return total, terms
