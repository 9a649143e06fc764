"""A summary of augmented items for the event log: counts only, no text, no private values."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from engine.types import ITEM_KINDS, Variant


def summarise(
    variants: Sequence[Variant], notes: Mapping[str, Mapping[str, str]] | None = None
) -> dict[str, Any]:
    """Counts per kind, held-out, flagged (with reason counts), backends, attempts, and, from
    ``notes`` (engine.augment.augment_facts), how many facts got fewer variants of a kind and
    why.

    Reasons name categories ("contains the fact's email address"), never values, so the
    summary is safe to write into the event log.
    """
    n = len(variants)
    facts = Counter(v.fact_id for v in variants)
    questions = [v for v in variants if v.kind != "completion"]
    flagged = [v for v in variants if not v.verification.ok]
    per_kind = Counter(v.kind for v in variants)
    return {
        "items": n,
        "facts": len(facts),
        "per_kind": {k: per_kind[k] for k in ITEM_KINDS if per_kind[k]},
        "question_variants_per_fact": round(len(questions) / len(facts), 2) if facts else 0.0,
        "held_out": sum(v.held_out for v in variants),
        "flagged": len(flagged),
        "flagged_share": round(len(flagged) / n, 4) if n else 0.0,
        "flag_reasons": dict(Counter(r for v in flagged for r in v.verification.reasons)),
        "regenerated": sum(v.attempts > 1 for v in variants),
        "max_attempts_used": max((v.attempts for v in variants), default=0),
        "backends": dict(Counter(v.backend for v in variants)),
        "seeds": sorted({v.seed for v in variants}),
        **_fewer(notes or {}),
    }


def _fewer(notes: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
    if not notes:
        return {}
    return {
        "fewer_variants": dict(Counter(kind for n in notes.values() for kind in n)),
        "fewer_reasons": dict(Counter(r for n in notes.values() for r in n.values())),
    }
