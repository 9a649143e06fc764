"""The verification gate: does a request's "after" audit clear the deployment's thresholds?"""

from __future__ import annotations

from engine.audit.config import Thresholds
from engine.audit.families import GATED_FAMILIES
from engine.audit.figures import AuditFigures


def _fmt(x: float) -> str:
    return f"{x:.3f}"


def gate(
    before: AuditFigures | None, after: AuditFigures, thresholds: Thresholds
) -> tuple[bool, list[str]]:
    """Return (passed, reasons). Reasons name the figure, its value and the bar, never a probe.

    A figure that could not be measured (no probes of that kind, re-check not run) fails the gate:
    verification needs evidence, not its absence. ``before`` is needed for the LS ratio only.
    """
    reasons: list[str] = []
    basis = "held-out" if after.kfr_basis == "forget_heldout" else "all forget probes"
    if after.kfr is None:
        reasons.append("KFR not measured (no scorable forget probes)")
    elif after.kfr < thresholds.kfr:
        reasons.append(f"KFR ({basis}) {_fmt(after.kfr)} < {_fmt(thresholds.kfr)}")
    if after.krr is None:
        reasons.append("KRR not measured (no scorable retain probes)")
    elif after.krr < thresholds.krr:
        reasons.append(f"KRR {_fmt(after.krr)} < {_fmt(thresholds.krr)}")
    # each retain group holds on its own: a whole that passes can hide one group that broke
    for name, value in (("other people", after.krr_subjects), ("generic", after.krr_generic),
                        ("the person's kept facts", after.krr_own)):
        if value is not None and value < thresholds.krr:
            reasons.append(f"KRR ({name}) {_fmt(value)} < {_fmt(thresholds.krr)}")
    if before is None or before.ls is None:
        reasons.append("LS before unlearning not measured")
    elif after.ls is None:
        reasons.append("LS after unlearning not measured")
    elif after.ls < thresholds.ls_ratio * before.ls:
        reasons.append(
            f"LS {_fmt(after.ls)} < {thresholds.ls_ratio:g} x LS before ({_fmt(before.ls)})"
        )
    for name, value, limit in (
        ("leak rate", after.leak_rate, thresholds.leak_rate),
        ("8-bit leak rate", after.leak_rate_8bit, thresholds.leak_rate_8bit),
        ("4-bit leak rate", after.leak_rate_4bit, thresholds.leak_rate_4bit),
    ):
        reasons += _above(name, value, limit)
    reasons += _family_reasons(after, thresholds)
    return not reasons, reasons


def _above(name: str, value: float | None, limit: float | None) -> list[str]:
    """The reason a figure that must stay at most ``limit`` fails it (unmeasured fails too); no
    reason when it holds or the bar is unset."""
    if limit is None:
        return []
    if value is None:
        return [f"{name} not measured"]
    return [f"{name} {_fmt(value)} > {_fmt(limit)}"] if value > limit else []


def _below(name: str, value: float | None, bar: float | None) -> list[str]:
    """The reason a figure that must reach ``bar`` fails it, as :func:`_above` the other way."""
    if bar is None:
        return []
    if value is None:
        return [f"{name} not measured"]
    return [f"{name} {_fmt(value)} < {_fmt(bar)}"] if value < bar else []


def _family_reasons(after: AuditFigures, thresholds: Thresholds) -> list[str]:
    """The adversarial families' bars (engine.audit.families), the worst case, and membership
    inference; a bar left unset (None) gates nothing."""
    reasons: list[str] = []
    for family in GATED_FAMILIES:
        fam = after.families.get(family, {})
        reasons += _below(f"KFR ({family})", fam.get("kfr"),
                          getattr(thresholds, f"kfr_{family}"))
        reasons += _above(f"leak rate ({family})", fam.get("leak_rate"),
                          getattr(thresholds, f"leak_rate_{family}"))
    for name, value, limit in (
        ("4-bit leak rate (worst family)", after.leak_rate_4bit_worst,
         thresholds.leak_rate_4bit_worst),
        ("membership-inference AUC", after.mia_auc, thresholds.mia_auc),
        ("relearning-attack recovery above control", after.relearn_recovery,
         thresholds.relearn_recovery),
    ):
        reasons += _above(name, value, limit)
    return reasons
