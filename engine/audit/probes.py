"""Turning requests and the deployment's data into audit probes.

Forget probes ask about the facts to forget: the original question, the trained variants and
the held-out variants (never trained on: the honest test). Their ground truth is always the
fact's original answer, private values included, since that is what must not come back.
Retain probes ask what the model must keep: other subjects' facts and generic knowledge.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from engine.audit.figures import AuditFigures
from engine.types import QA, VARIANT_KINDS, Fact, Probe, Variant


def forget_probes(
    request_key: str,
    facts: Sequence[Fact],
    items: Iterable[Variant],
    *,
    trained_per_fact: int | None = None,
) -> list[Probe]:
    """Probes for one request: every fact's original question, then, in the order given, each
    held-out variant and the first ``trained_per_fact`` trained ones of each fact (None: all).
    Completion items are training material, not questions, and are left out."""
    values = {f.fact_id: tuple(pv.value for pv in f.private_values) for f in facts}
    truth = {f.fact_id: f.answer for f in facts}
    probes = [Probe("forget_original", f.question, f.answer, request_key, values[f.fact_id])
              for f in facts]
    asked: dict[str, int] = {}
    for v in items:
        if v.kind not in VARIANT_KINDS:
            continue
        if v.held_out:
            probes.append(Probe("forget_heldout", v.question, truth[v.fact_id], request_key,
                                values[v.fact_id]))
        elif trained_per_fact is None or asked.get(v.fact_id, 0) < trained_per_fact:
            asked[v.fact_id] = asked.get(v.fact_id, 0) + 1
            probes.append(Probe("forget_trained", v.question, truth[v.fact_id], request_key,
                                values[v.fact_id]))
    return probes


def retain_probes(subjects: Iterable[QA], generic: Iterable[QA]) -> list[Probe]:
    """Shared retain probes: other data subjects' facts and generic knowledge."""
    return [Probe("retain_subjects", qa.question, qa.answer) for qa in subjects] + [
        Probe("retain_generic", qa.question, qa.answer) for qa in generic
    ]


def own_probes(request_key: str, pairs: Iterable[QA]) -> list[Probe]:
    """Retain probes on the request's own person: facts the request does not ask to erase
    (an author's genre, a customer's public role). Tied to their request, reported apart."""
    return [Probe("retain_own", qa.question, qa.answer, request_key) for qa in pairs]


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
