"""Turning requests and the deployment's data into audit probes.

Forget probes ask about the facts to forget: the original question, the trained variants and
the held-out variants (never trained on: the honest test). Their ground truth is always the
fact's original answer, private values included, since that is what must not come back.
Retain probes ask what the model must keep: other subjects' facts and generic knowledge.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence

from engine.audit.figures import AuditFigures
from engine.types import QA, VARIANT_KINDS, Fact, Probe, Variant


def forget_probes(
    request_key: str,
    facts: Sequence[Fact],
    variants: Iterable[Variant],
    *,
    trained_per_fact: int | None = None,
    seed: int = 0,
) -> list[Probe]:
    """Probes for one request. Completion items are training material, not questions, and
    are left out; ``trained_per_fact`` caps the trained variants asked per fact (None: all)."""
    by_fact: dict[str, list[Variant]] = {}
    for v in variants:
        if v.kind in VARIANT_KINDS:
            by_fact.setdefault(v.fact_id, []).append(v)
    rng = random.Random(f"{seed}:{request_key}")
    probes: list[Probe] = []
    for fact in facts:
        values = tuple(pv.value for pv in fact.private_values)
        probes.append(Probe("forget_original", fact.question, fact.answer, request_key, values))
        mine = by_fact.get(fact.fact_id, [])
        trained = [v for v in mine if not v.held_out]
        if trained_per_fact is not None and len(trained) > trained_per_fact:
            trained = rng.sample(trained, trained_per_fact)
        for v in trained:
            probes.append(Probe("forget_trained", v.question, fact.answer, request_key, values))
        for v in mine:
            if v.held_out:
                probes.append(Probe("forget_heldout", v.question, fact.answer, request_key, values))
    return probes


def retain_probes(subjects: Iterable[QA], generic: Iterable[QA]) -> list[Probe]:
    """Shared retain probes: other data subjects' facts and generic knowledge."""
    return [Probe("retain_subjects", qa.question, qa.answer) for qa in subjects] + [
        Probe("retain_generic", qa.question, qa.answer) for qa in generic
    ]


def known_retain(probes: Sequence[Probe], before: AuditFigures) -> list[Probe]:
    """``probes`` without the retain probes the model already failed before unlearning.

    KRR measures knowledge *kept*; a retain probe the deployed model never answered right would
    count against every method alike. ``before`` must be the run-level ("" key) figures of the
    before audit on these probes, with its ``private_probe_records``.
    """
    failed = {
        (r.group, r.question) for r in before.private_probe_records if r.verdict == "not retained"
    }
    return [p for p in probes if (p.group, p.question) not in failed]
