"""The headline figures of a report, shared by the Markdown and HTML renderers."""

from __future__ import annotations

from typing import Any

from engine.audit.config import GROUP_KRR

# (key in the audit figures, label, threshold key, higher is better)
HEADLINE = (
    ("kfr_heldout", "KFR (held-out probes)", "kfr", True),
    ("kfr_original", "KFR (original questions)", None, True),
    ("krr", "KRR", "krr", True),
    # each retain group is held to the KRR bar on its own (engine.audit.gate)
    ("krr_subjects", "KRR (other people)", "krr", True),
    ("krr_generic", "KRR (generic)", "krr", True),
    ("krr_own", "KRR (the person's kept facts)", "krr", True),
    ("ls", "LS", "ls_ratio", True),
    ("leak_rate", "leak rate", "leak_rate", False),
    ("leak_rate_8bit", "leak rate 8-bit", None, False),
    ("leak_rate_4bit", "leak rate 4-bit", "leak_rate_4bit", False),
    ("kfr_worst", "KFR (worst probe family)", None, True),
    ("leak_rate_worst", "leak rate (worst probe family)", None, False),
    ("leak_rate_4bit_worst", "leak rate 4-bit (worst probe family)", "leak_rate_4bit_worst",
     False),
    ("mia_auc", "membership-inference AUC", "mia_auc", False),
    ("relearn_recovery", "relearning attack: recovery above control", "relearn_recovery",
     False),
)
GROUP_KEYS = tuple(GROUP_KRR.values())


# (threshold key of engine.audit.config.Thresholds, figure, the probes it covers, higher is
# better): what each bar holds, for the lines that say which gates a run was held to
BARS = (
    ("kfr", "KFR", "held-out", True),
    ("kfr_independent", "KFR", "independent", True),
    ("kfr_extraction", "KFR", "extraction", True),
    ("krr", "KRR", "each retain group", True),
    ("ls_ratio", "LS", "", True),
    ("leak_rate", "leak", "all", False),
    ("leak_rate_independent", "leak", "independent", False),
    ("leak_rate_extraction", "leak", "extraction", False),
    ("leak_rate_8bit", "leak", "8-bit", False),
    ("leak_rate_4bit", "leak", "4-bit", False),
    ("leak_rate_4bit_worst", "leak", "worst family 4-bit", False),
    ("mia_auc", "membership AUC", "", False),
    ("relearn_recovery", "relearning recovery", "", False),
)


def bar_groups(thresholds: dict[str, Any], ge: str = ">=", le: str = "<=") -> list[str]:
    """The bars a run was held to, those of one figure and value together, e.g.
    "KFR >= 0.9 (held-out, independent, extraction)"; a bar left unset (None) gates nothing
    and is left out."""
    groups: dict[tuple[str, bool, float], list[str]] = {}
    for key, figure, scope, higher in BARS:
        value = thresholds.get(key)
        if value is None:
            continue
        groups.setdefault((figure, higher, float(value)), []).append(scope)
    out = []
    for (figure, higher, value), scopes in groups.items():
        if figure == "LS":
            out.append(f"LS {ge} {value:g}x before")
            continue
        scoped = [s for s in scopes if s]
        where = f" ({', '.join(scoped)})" if scoped else ""
        out.append(f"{figure} {ge if higher else le} {value:g}{where}")
    return out


def fmt(value: Any, digits: int = 3) -> str:
    """A figure for a report, a table or the docs: '-' when it was not measured, a float to
    ``digits`` places, anything else as it is (a count stays a whole number)."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def settings_text(settings: dict[str, Any]) -> str:
    """Training settings as one cell: "epochs=6, lr=0.001, forget_weight=3"; '-' when none."""
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in settings.items()) or "-"


def headline_rows(audit: dict[str, Any], thresholds: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per headline figure: before, after, the threshold it is held to."""
    before, after = audit.get("before") or {}, audit.get("after") or {}
    rows = []
    for key, label, tkey, higher in HEADLINE:
        if key not in before and key not in after:
            continue
        if key in GROUP_KEYS and before.get(key) is None and after.get(key) is None:
            continue  # a run without probes of that retain group (no kept facts, say)
        threshold = thresholds.get(tkey) if tkey else None
        if tkey == "ls_ratio" and threshold is not None:
            rule = f">= {threshold} x before"
        elif threshold is None:
            rule = ""
        else:
            rule = f"{'>=' if higher else '<='} {threshold}"
        rows.append({"key": key, "label": label, "before": before.get(key),
                     "after": after.get(key), "rule": rule})
    return rows


def ls_components(figures: dict[str, Any]) -> dict[str, Any]:
    return {k: figures.get(k) for k in ("ppl", "brunet", "honore") if k in figures}


def family_rows(audit: dict[str, Any], thresholds: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per probe family (engine.audit.families.FAMILIES, in that order): its probes,
    KFR and leak rates before and after, and the bars it is held to ("" where none)."""
    from engine.audit.families import FAMILIES

    before = (audit.get("before") or {}).get("families") or {}
    after = (audit.get("after") or {}).get("families") or {}
    rows = []
    for family in FAMILIES:
        b, a = before.get(family) or {}, after.get(family) or {}
        if not b and not a:
            continue
        bars = [f"KFR >= {thresholds[k]}" for k in (f"kfr_{family}",)
                if thresholds.get(k) is not None]
        bars += [f"leak <= {thresholds[k]}" for k in (f"leak_rate_{family}",)
                 if thresholds.get(k) is not None]
        rows.append({"family": family, "n": a.get("n", b.get("n")),
                     "kfr_before": b.get("kfr"), "kfr_after": a.get("kfr"),
                     "leak_before": b.get("leak_rate"), "leak_after": a.get("leak_rate"),
                     "leak_4bit_after": a.get("leak_rate_4bit"), "rule": ", ".join(bars)})
    return rows


def stage_seconds(figures: dict[str, Any]) -> str:
    """How long each audit stage took, e.g. "core 41.2 s, independent 9.8 s"."""
    stages = figures.get("stage_seconds") or {}
    return ", ".join(f"{k} {float(v):.1f} s" for k, v in stages.items())


def relearn_line(figures: dict[str, Any]) -> str:
    """The relearning attack's shares, e.g. "half: 0.000 recovered (control 0.000) of 3 ..."."""
    r = figures.get("relearn") or {}
    parts = [f"{a}: {fmt(r[f'{a}_recovered'])} of {r.get(f'{a}_probes')} facts recovered "
             f"(control {fmt(r.get(f'{a}_control'))})"
             for a in ("half", "neighbours") if f"{a}_recovered" in r]
    if not parts:
        return ""
    return f"Relearning attack ({r.get('relearn_steps')} steps): " + "; ".join(parts)
