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
to every author's email and address question. Every second row about a person who keeps some
facts (the request's own pairs in the retain set) is paired with the nearest of those instead:
with the contrast on other people alone, the same run refused a kept fact of the person's own.
A reverse question ("Who lives at <address>?") is paired with a public "who" question answered,
because its refusal was seen to carry over to a generic "Who can ...?" question (on one
screen each, with the contrast that probe was answered and without it refused: one probe,
docs/benchmarks.md).

The value term is off at ``value_weight = 0``. Learning the sanitised answers teaches
the model to start its answer another way, but once an answer starts the original way the value
still follows: after one of the sample deployment's runs, 14 of its 18 values kept a
log-probability above -2.5 in their original answers, a path temperature-1 sampling can take
(the leak probes). The term lowers just the values' tokens, in the original answers' context,
until each value is below exp(-value_nats) there, and then leaves it alone; the rest of the
answer is not touched.

A quantisation-aware step (``qat_bits``) computes with the rounded weights. At ``qat_retain =
false`` only its forget side (the relearn and value terms) does; its retain side (retain CE,
KL, neighbours) runs at full precision in a second pass of the same step. Under rounding the
retain terms ask the rounded model to match the full-precision reference, which it cannot do
closer than the rounding allows, while KRR is measured at full precision.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from engine.train.base import Method
from engine.train.losses import ce, floored_logprob, kl_to_reference
from engine.types import QA


def neighbours(rows: Sequence[QA], retain: Sequence[QA], subjects: Sequence[str]) -> list[QA]:
    """For each row, a retain row to train beside it: the nearest one about none of
    ``subjects`` (by embedding, a question on the forgotten person's other facts is nearer
    than the same relation asked about someone else, the contrast wanted); and for every
    second row about a person who keeps facts in the retain set (the request's own kept
    pairs), the nearest of those instead, so that the refusal is not learnt for the whole
    person either. With no retain row about anyone else, the pool is the whole retain set.

    A reverse row (a "who" question that names none of ``subjects``: "Who lives at <address>?")
    is paired with the nearest "who" question answered instead: one of the retain set's about
    nobody in ``subjects``, or of the built-in ``WHO_KNOWLEDGE``, so that its refusal is learnt
    for the private value, not for every question that asks who."""
    from engine.augment.retain import WHO_KNOWLEDGE, about, asks_who, names_anyone, people_patterns
    from engine.train.icu import nearest_neighbours

    people = people_patterns(subjects)
    pool = [qa for qa in retain if not about(qa, people)] or list(retain)
    out = [pool[j] for j in nearest_neighbours(rows, pool, questions_only=True)]
    reverse = [i for i, qa in enumerate(rows) if asks_who(qa.question)
               and not names_anyone(qa.question, people)]
    if reverse:
        who = [qa for qa in pool if asks_who(qa.question)] + list(WHO_KNOWLEDGE)
        nearest = nearest_neighbours([rows[i] for i in reverse], who, questions_only=True)
        for i, j in zip(reverse, nearest, strict=True):
            out[i] = who[j]
    for pats in people:
        own = [qa for qa in retain if about(qa, [pats])]
        if not own or len(own) == len(retain):
            continue
        mine = [i for i, qa in enumerate(rows) if about(qa, [pats])][1::2]
        if mine:
            nearest = nearest_neighbours([rows[i] for i in mine], own, questions_only=True)
            for i, j in zip(mine, nearest, strict=True):
                out[i] = own[j]
    return out


class ReLearn(Method):
    name = "relearn"
    primary = "relearn"
    sampled = ("retain",)
    reference: ClassVar = frozenset({"retain"})
    forget_side: ClassVar = frozenset({"relearn", "values"})

    def __init__(self, config) -> None:
        super().__init__(config)
        if config.value_weight:
            self.sampled = ("retain", "values")
        if config.neighbour_weight:
            self.aligned = ("neighbour",)

    def streams(self, data):
        if self.config.value_weight and not data.values:
            # nothing marked to push down (every fact recorded as holding no private value):
            # the term has no rows, and the run trains the others, as at value_weight 0
            self.sampled = ("retain",)
        out = super().streams(data)
        if self.config.neighbour_weight:
            out["neighbour"] = neighbours(out["relearn"], out["retain"], data.subjects)
        return out

    def loss(self, out):
        # a quantisation-aware step at qat_retain = false computes its forget side (relearn,
        # values) and its retain side (retain, neighbour) in two passes: each has only its own
        c = self.config
        terms, parts = {}, []
        if "relearn" in out:
            terms["relearn_ce"] = ce(out["relearn"])
            parts.append(c.forget_weight * terms["relearn_ce"])
        if "retain" in out:
            terms["retain_ce"] = ce(out["retain"])
            terms["retain_kl"] = kl_to_reference(out["retain"])
            parts += [c.retain_weight * terms["retain_ce"], c.kl_weight * terms["retain_kl"]]
        if c.neighbour_weight and "neighbour" in out:
            terms["neighbour_ce"] = ce(out["neighbour"])
            parts.append(c.neighbour_weight * terms["neighbour_ce"])
        if c.value_weight and "values" in out:
            terms["value_lp"] = floored_logprob(out["values"], c.value_nats)
            parts.append(c.value_weight * terms["value_lp"])
        return sum(parts[1:], parts[0]), terms  # left to right, as one sum written out
