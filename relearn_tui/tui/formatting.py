"""How values look on screen: deadline colours, state colours, metric figures.

Private text goes through :mod:`relearn_tui.tui.masking`, the one masking rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rich.text import Text

from relearn_tui.reports.figures import bar_groups

AMBER_DAYS = 7


def categories(values: Iterable[Mapping[str, Any]] | None) -> list[str]:
    """Distinct categories of a fact's private values (or of their hashes), in order."""
    seen: list[str] = []
    for v in values or []:
        cat = str(v.get("category") or "other")
        if cat not in seen:
            seen.append(cat)
    return seen


def days_left_text(days: int) -> Text:
    """Days left before the deadline: amber under a week, red and negative past it."""
    if days < 0:
        return Text(f"{days}d", style="bold red")
    if days < AMBER_DAYS:
        return Text(f"{days}d", style="bold #ffb000")
    return Text(f"{days}d")


# a style per request state (workflow.STATES) and run state (runs.RUN_STATES); a test keeps
# the keys equal to those lists
STATE_STYLES = {
    "submitted": "",
    "augmented": "cyan",
    "human_reviewed": "blue",
    "trained": "magenta",
    "verified": "bold green",
    "failed": "bold red",
    "denied": "dim",
    "canceled": "dim",
    # runs (failed and canceled as above)
    "queued": "",
    "running": "bold cyan",
    "completed": "green",
    "interrupted": "yellow",
}


def state_text(state: str) -> Text:
    return Text(state, style=STATE_STYLES.get(state, ""))


def figure(value: Any, digits: int = 2) -> str:
    """A metric value for a table cell; '-' when it was not measured."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return f"{value:.{digits}f}"
    return str(value)


def pass_text(passed: bool | None) -> Text:
    if passed is None:
        return Text("-", style="dim")
    return Text("PASS", style="bold green") if passed else Text("FAIL", style="bold red")


def duration(seconds: float | None) -> str:
    """ETA-style duration: '45s', '3m 05s', '1h 02m'; '-' when unknown."""
    if seconds is None or seconds < 0:
        return "-"
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s // 3600}h {(s % 3600) // 60:02d}m"


def short(text: str, width: int) -> str:
    """One line of at most ``width`` characters."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: max(0, width - 1)] + "…"


def model_label(dep: Any) -> str:
    """The model a deployment unlearns, in a few words."""
    if dep.model:
        return str(dep.model).rstrip("/").rsplit("/", 1)[-1]
    if dep.corpus is not None:
        return f"{dep.base_model} fine-tuned on {dep.corpus.name}"
    return f"bare {dep.base_model}"


def deployment_label(dep: Any) -> str:
    """The deployment in use for the top line; says so when there is none."""
    if dep.source is None:
        return "bare model"  # the Runs screen says which, and that no deployment is in use
    return dep.name


def thresholds_line(thresholds: Mapping[str, Any]) -> str:
    """The bars a run is held to, one group per figure and value (the Audit screen shows a
    past run's, the Runs screen those of the deployment a launch will use)."""
    rules = bar_groups(dict(thresholds), "≥", "≤")
    return "thresholds: " + (" · ".join(rules).replace("x before", "×before")
                             if rules else "none recorded")
