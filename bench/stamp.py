"""When and where a benchmark ran, written into its JSON so that a generated docs table can say
so: the date, the checked-out commit and the hardware (CPU model and features)."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def commit() -> str:
    """The checked-out commit (short), "+dirty" when tracked files have changes; "" outside
    git."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                              capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, text=True, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return ""
    return head + ("+dirty" if dirty.strip() else "")


def stamp() -> dict[str, Any]:
    """``date``, ``commit`` and ``hardware`` of this run (taken at its start: a tree edited
    while a long bench runs does not change what it measured)."""
    from engine.models import hardware

    return {"date": time.strftime("%Y-%m-%d", time.gmtime()), "commit": commit(),
            "hardware": hardware()}


def train_overrides(items: list[str]) -> dict[str, Any]:
    """``--set KEY=VALUE`` items as [train] settings: numbers, booleans, lists and tables read
    as JSON, anything else kept as text."""
    out: dict[str, Any] = {}
    for item in items:
        key, _, value = item.partition("=")
        out[key] = json.loads(value) if value[:1] in "0123456789-[{tf" else value
    return out
