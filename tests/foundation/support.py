"""Helpers for the foundation tests: request builders, a whole-database snapshot (to prove
that a failed operation changed nothing) and shortcuts into the lifecycle."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, text

from relearn_tui import workflow
from relearn_tui.importer import import_paths
from relearn_tui.store import Store

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_requests"
VENV_BIN = ROOT / ".venv" / "bin"
SECRET = bytes(range(32))
# A private value planted in test files: no error message may ever contain it.
PRIVATE = "isabella.marquez@futuramail.es"
PRIVATE_ANSWER = f"Isabella Marquez can be contacted at {PRIVATE}."

STATES = ["submitted", "augmented", "human_reviewed", "trained", "verified", "failed",
          "denied", "canceled"]
TERMINAL = {"verified", "denied", "canceled"}
# The contract, written out independently of workflow.ALLOWED. Besides the forward path
# (docs/design.md §3.1): a request can be re-augmented (augmented, human_reviewed or
# failed -> augmented), and a reviewed request can be failed by a run error before training
# finishes.
EXPECTED: dict[str, set[str]] = {
    "submitted": {"augmented", "denied", "canceled"},
    "augmented": {"augmented", "human_reviewed", "denied", "canceled"},
    "human_reviewed": {"augmented", "trained", "failed", "denied", "canceled"},
    "trained": {"verified", "failed", "denied", "canceled"},
    "failed": {"human_reviewed", "augmented", "denied", "canceled"},
    "verified": set(),
    "denied": set(),
    "canceled": set(),
}

# How to reach each state from `submitted` through legal transitions only.
PATH_TO: dict[str, list[str]] = {
    "submitted": [],
    "augmented": ["augmented"],
    "human_reviewed": ["augmented", "human_reviewed"],
    "trained": ["augmented", "human_reviewed", "trained"],
    "verified": ["augmented", "human_reviewed", "trained", "verified"],
    "failed": ["augmented", "human_reviewed", "trained", "failed"],
    "denied": ["denied"],
    "canceled": ["canceled"],
}

_ids = itertools.count(1)


def fresh_id(prefix: str = "T") -> str:
    return f"{prefix}-{next(_ids):05d}"


def received_days_ago(days: int = 3) -> str:
    """A receipt date relative to today, for tests that extend a request without --late: a
    fixed date passes its deadline as the calendar moves on (CI failed on 2026-12-03 so)."""
    at = datetime.now(UTC).replace(hour=9, minute=14, second=0, microsecond=0)
    return (at - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def request_obj(rid: str | None = "DSR-T-0001", *, name: str = "Isabella Marquez",
                answer: str = PRIVATE_ANSWER, **extra: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "subject": {"name": name, "reference": "crm-88213"},
        "received_at": "2026-11-02T09:14:00Z",
        "ground": "art17-1a",
        "facts": [
            {"question": f"What is {name}'s email address?", "answer": answer},
            {"question": f"Where does {name} live?", "answer": f"{name} lives in Springfield."},
        ],
    }
    if rid is not None:
        obj["request_id"] = rid
    obj.update(extra)
    return obj


def write_json(path: Path, obj: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def write_jsonl(path: Path, objs: list[Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objs),
                    encoding="utf-8")
    return path


def snapshot(store: Store) -> dict[str, list[tuple]]:
    """Every row of every table, in a stable order."""
    out: dict[str, list[tuple]] = {}
    with store.engine.connect() as conn:
        for table in sorted(inspect(conn).get_table_names()):
            rows = conn.execute(text(f'SELECT * FROM "{table}"')).all()
            out[table] = sorted((tuple(r) for r in rows), key=repr)
    return out


def event_count(store: Store, request_id: str | None = None) -> int:
    sql = "SELECT count(*) FROM event" + (" WHERE request_id = :r" if request_id else "")
    with store.engine.connect() as conn:
        return conn.execute(text(sql), {"r": request_id}).scalar_one()


def state_of(store: Store, request_id: str) -> str:
    with store.session() as s:
        return workflow.get_request(s, request_id).state


def add_request(store: Store, tmp: Path, state: str = "submitted",
                rid: str | None = None) -> str:
    """Import one request through the real importer, then walk it to ``state``."""
    rid = rid or fresh_id()
    import_paths(store, [write_json(tmp / f"{rid}.json", request_obj(rid))], secret=SECRET,
                 actor="importer")
    for target in PATH_TO[state]:
        with store.session() as s:
            workflow.transition(s, rid, target, actor="setup",
                                detail={"reason": "test setup"} if target in
                                workflow.NEEDS_REASON else None)
    return rid
