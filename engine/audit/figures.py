"""What an audit returns: figures per probe group, per request and per run.

Everything here is free of personal data except :attr:`AuditFigures.private_probe_records`,
which holds failing probes' questions and the model's answers (they may contain the very values
that were to be forgotten). ``to_dict()`` leaves it out unless asked; the application stores it
with the request's private data and purges it with them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from engine.audit.config import FORGET_GROUPS, RETAIN_GROUPS


@dataclass
class GroupFigures:
    """One probe group. ``rate`` is KFR for forget groups, KRR for retain groups."""

    group: str
    n: int = 0
    n_scored: int = 0
    n_unscorable: int = 0
    rate: float | None = None
    entity_score_mean: float | None = None
    nli_contradictions: int | None = None
    ls: float | None = None
    ppl: float | None = None
    brunet: float | None = None
    honore: float | None = None
    leak_probes: int = 0
    leaked: int = 0
    leak_rate: float | None = None
    leak_rate_8bit: float | None = None
    leak_rate_4bit: float | None = None

    @property
    def forget(self) -> bool:
        return self.group in FORGET_GROUPS


@dataclass(frozen=True)
class ProbeRecord:
    """A probe that failed: not forgotten, leaked (at some precision), or not retained.

    PRIVATE: ``question`` and ``output`` may hold personal data.
    """

    group: str
    request_key: str
    question: str
    output: str
    verdict: str
    entity_score: float
    nli_label: str | None = None
    leaked_at: tuple[str, ...] = ()
    style: str = ""  # an extraction probe's attack, an independent probe's source


@dataclass
class AuditFigures:
    """All figures for one request (``request_key``) or, with key ``""``, the whole run.

    ``kfr`` is the honest forgetting figure: KFR on held-out variants (never trained on); when a
    run has no held-out probes it falls back to all forget probes and ``kfr_basis`` says so.
    """

    request_key: str
    kfr: float | None = None
    kfr_basis: str = "forget_heldout"
    kfr_original: float | None = None
    kfr_trained: float | None = None
    kfr_heldout: float | None = None
    kfr_all: float | None = None
    krr: float | None = None
    krr_subjects: float | None = None
    krr_generic: float | None = None
    krr_own: float | None = None  # the request's person's facts it keeps (retain_own)
    ls: float | None = None
    ppl: float | None = None
    brunet: float | None = None
    honore: float | None = None
    ppl_reference: str = ""
    leak_rate: float | None = None
    leak_rate_8bit: float | None = None
    leak_rate_4bit: float | None = None
    leak_samples: int = 0
    temperature: float = 1.0
    quant_backends: dict[str, str] = field(default_factory=dict)
    # per precision: why that backend, with its self-check against the exact format
    quant_checks: dict[str, str] = field(default_factory=dict)
    nli_used: bool = False
    judge: str = ""
    n_forget: int = 0
    n_retain: int = 0
    seconds: float = 0.0
    groups: dict[str, GroupFigures] = field(default_factory=dict)
    # per probe family (engine.audit.families): n, kfr, leak rates at each precision
    families: dict[str, dict[str, Any]] = field(default_factory=dict)
    # the worst over the families: lowest KFR, highest leak rate (full precision, 4-bit)
    kfr_worst: float | None = None
    kfr_worst_family: str = ""
    leak_rate_worst: float | None = None
    leak_rate_worst_family: str = ""
    leak_rate_4bit_worst: float | None = None
    # membership inference: AUC of the original answers against fictional ones (0.5: chance)
    mia_auc: float | None = None
    mia_pairs: int = 0
    # the relearning attack (engine.audit.relearn_attack): recovered shares per attack on the
    # model and on the control, and the largest share above the control's
    relearn: dict[str, Any] = field(default_factory=dict)
    relearn_recovery: float | None = None
    # seconds each audit stage took (core, independent, extraction, membership)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    private_probe_records: list[ProbeRecord] = field(default_factory=list)

    def to_dict(self, *, include_private: bool = False) -> dict[str, Any]:
        """Plain JSON-ready dict; ``private_probe_records`` only with ``include_private=True``."""
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["groups"] = {k: asdict(v) for k, v in self.groups.items()}
        d.pop("private_probe_records")
        if include_private:
            d["private_probe_records"] = [asdict(r) for r in self.private_probe_records]
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuditFigures:
        """Rebuild stored figures (e.g. the "before" audit) for :func:`engine.audit.gate`."""
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        kwargs["groups"] = {k: GroupFigures(**v) for k, v in data.get("groups", {}).items()}
        kwargs["private_probe_records"] = [
            ProbeRecord(**{**r, "leaked_at": tuple(r.get("leaked_at", ()))})
            for r in data.get("private_probe_records", [])
        ]
        return cls(**kwargs)

    def group_rate(self, group: str) -> float | None:
        g = self.groups.get(group)
        return g.rate if g else None


__all__ = ["FORGET_GROUPS", "RETAIN_GROUPS", "AuditFigures", "GroupFigures", "ProbeRecord"]
