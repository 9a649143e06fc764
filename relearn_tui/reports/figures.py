"""The headline figures of a report, shared by the Markdown and HTML renderers."""

from __future__ import annotations

from typing import Any

# (key in the audit figures, label, threshold key, higher is better)
HEADLINE = (
    ("kfr_heldout", "KFR (held-out probes)", "kfr", True),
    ("kfr_original", "KFR (original questions)", None, True),
    ("krr", "KRR", "krr", True),
    ("ls", "LS", "ls_ratio", True),
    ("leak_rate", "leak rate", "leak_rate", False),
    ("leak_rate_8bit", "leak rate 8-bit", None, False),
    ("leak_rate_4bit", "leak rate 4-bit", "leak_rate_4bit", False),
)


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def headline_rows(audit: dict[str, Any], thresholds: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per headline figure: before, after, the threshold it is held to."""
    before, after = audit.get("before") or {}, audit.get("after") or {}
    rows = []
    for key, label, tkey, higher in HEADLINE:
        if key not in before and key not in after:
            continue
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
