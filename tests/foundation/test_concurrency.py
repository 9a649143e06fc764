"""Two processes write to the same SQLite file at the same time (as a TUI and a headless run
would): no update is lost, no write fails, and the event chain stays one unbroken line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import text

from relearn_tui import workflow
from relearn_tui.store import Store

WORKER = Path(__file__).with_name("chain_worker.py")
TRANSITIONS = 200
WORKERS = ("alpha", "bravo")


def test_two_processes_drive_transitions_on_one_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    procs = [subprocess.Popen([sys.executable, str(WORKER), url, name, str(TRANSITIONS),
                               str(tmp_path)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env)
             for name in WORKERS]
    limit = time.monotonic() + 120
    while not all((tmp_path / f"ready-{name}").exists() for name in WORKERS):
        assert time.monotonic() < limit, "workers did not start"
        assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
        time.sleep(0.01)
    (tmp_path / "go").touch()
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-3000:]

    store = Store(url)
    with store.engine.connect() as conn:
        actors = [row[0] for row in conn.execute(text("SELECT actor FROM event ORDER BY id"))]
        states = dict(conn.execute(text("SELECT id, state FROM request")).all())
        versions = conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one()
    per_worker = 4 + 4 + TRANSITIONS  # imports, first augmentations, the cycle
    assert len(actors) == 2 * per_worker
    assert {a: actors.count(a) for a in WORKERS} == dict.fromkeys(WORKERS, per_worker)
    # each request went round TRANSITIONS/4 times: an even number, so it is augmented again
    assert states == {f"{w}-{i}": "augmented" for w in WORKERS for i in range(4)}
    assert versions == 1
    with store.session() as s:
        check = workflow.verify_chain(s)
    assert check.ok, check.describe()
    assert check.events == 2 * per_worker
    # they really wrote at the same time: their transition loops overlapped
    windows = [json.loads((tmp_path / f"window-{name}").read_text()) for name in WORKERS]
    assert max(w[0] for w in windows) < min(w[1] for w in windows), windows
    store.close()
