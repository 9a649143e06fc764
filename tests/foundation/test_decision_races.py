"""Several processes decide on one request at the same moment (as the issue #24 hostile test
did with a real PostgreSQL): exactly one final decision wins, at most two months of extension
are granted, and the event log tells exactly what the request row says. And several processes
starting on an empty database migrate it once, without an error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import select

from relearn_tui import workflow
from relearn_tui.paths import deployment_secret
from relearn_tui.store import Store
from relearn_tui.store.db import MIGRATION_LOCK_KEY, WAIT_NOTICE
from relearn_tui.store.models import Event

from .support import add_request, request_obj, write_jsonl

# (command, arguments): two denials, a cancellation and three extensions (1 + 2 + 2 months)
DECISIONS = [
    ("deny", ["--reason", "identity not verified"]),
    ("deny", ["--reason", "an Art. 17(3) exemption applies"]),
    ("cancel", ["--reason", "the subject withdrew the request"]),
    # --late: the test request's fixed date (due 2026-12-02) makes a later extension an override
    ("extend", ["--months", "1", "--reason", "complex request", "--late"]),
    ("extend", ["--months", "2", "--reason", "many requests at once", "--late"]),
    ("extend", ["--months", "2", "--reason", "waiting for the data owner", "--late"]),
]
STARTUP_S = 120


def _cli(args: list[str], home: Path, err: Path) -> subprocess.Popen:
    env = dict(os.environ, RELEARN_HOME=str(home), RELEARN_OPERATOR="racer",
               PYTHONDONTWRITEBYTECODE="1")
    return subprocess.Popen([sys.executable, "-m", "relearn_tui.cli", *args],
                            stdout=subprocess.PIPE, stderr=err.open("w"), text=True, env=env)


def _wait_until_all_wait(procs: list[subprocess.Popen], errs: list[Path]) -> None:
    """Until every process says it waits for the lock the test holds: then they all stand at
    the same line when it is released."""
    limit = time.monotonic() + STARTUP_S
    while not all(WAIT_NOTICE in e.read_text() for e in errs):
        for p, e in zip(procs, errs, strict=True):
            assert p.poll() is None, f"exited {p.returncode} before waiting: {e.read_text()}"
        assert time.monotonic() < limit, "the processes never reached the lock"
        time.sleep(0.05)


def _start_queued(store: Store, argvs: list[list[str]], home: Path,
                  errs: list[Path]) -> list[subprocess.Popen]:
    """Start one CLI process per argv while this test holds the write lock, and release it
    once all of them wait for it: they then race for the same state."""
    with store.session():
        procs = [_cli(argv, home, err) for argv, err in zip(argvs, errs, strict=True)]
        try:
            _wait_until_all_wait(procs, errs)
        except BaseException:
            for p in procs:
                p.kill()
            raise
    return procs


def _store(db_url: str, home: Path) -> Store:
    """The database as the CLI processes write it: keyed with their home's secret."""
    home.mkdir(parents=True, exist_ok=True)
    return Store(db_url, chain_key=workflow.chain_key(deployment_secret(home)))


def test_concurrent_decisions_on_one_request(db_url: str, tmp_path: Path) -> None:
    store = _store(db_url, tmp_path / "home")
    rid = add_request(store, tmp_path)
    errs = [tmp_path / f"err-{i}" for i in range(len(DECISIONS))]
    procs = _start_queued(store, [["request", cmd, rid, *args, "--db", db_url]
                                  for cmd, args in DECISIONS], tmp_path / "home", errs)
    codes = [p.wait(timeout=STARTUP_S) for p in procs]
    messages = [e.read_text() for e in errs]
    assert set(codes) <= {0, 2}, messages
    assert all("Traceback" not in m for m in messages), messages

    finals = [i for i, (cmd, _) in enumerate(DECISIONS) if cmd != "extend" and codes[i] == 0]
    assert len(finals) == 1, (codes, messages)
    with store.read() as s:
        req = workflow.get_request(s, rid)
        events = s.exec(select(Event).where(Event.request_id == rid).order_by(Event.id)).all()
    closing = [e for e in events if e.to_state in ("denied", "canceled") and
               e.from_state != e.to_state]
    assert len(closing) == 1, events
    assert req.state == closing[0].to_state == ("canceled" if DECISIONS[finals[0]][0] == "cancel"
                                               else "denied")
    granted = [i for i, (cmd, _) in enumerate(DECISIONS) if cmd == "extend" and codes[i] == 0]
    logged = [e for e in events if e.action == "deadline_extended"]
    months = [int(DECISIONS[i][1][1]) for i in granted]
    assert sorted(e.detail["months"] for e in logged) == sorted(months)
    assert req.extension_months == sum(months) <= 2
    # every refusal is the one-line error of a decision taken on the current state
    for i, code in enumerate(codes):
        if code == 2:
            assert messages[i].strip().splitlines()[-1].startswith("error: "), messages[i]
    with store.read() as s:
        check = workflow.verify_chain(s)
    assert check.ok, check.describe()
    store.close()


def test_first_start_on_empty_database(db_url: str, tmp_path: Path) -> None:
    """Four processes open the same empty database at once: one migrates, the others wait
    and find it done (PostgreSQL used to fail one with a UniqueViolation on alembic_version)."""
    store = Store(db_url, auto_migrate=False)
    errs = [tmp_path / f"err-{i}" for i in range(4)]
    with store.engine.connect() as conn:
        # hold what a migration takes first, so all four queue behind it
        if store.engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
        else:
            conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS held (x INTEGER)")
            conn.commit()
            conn.exec_driver_sql("INSERT INTO held VALUES (1)")  # BEGIN IMMEDIATE, held
        procs = [_cli(["log", "verify", "--db", db_url], tmp_path / "home", err) for err in errs]
        try:
            _wait_until_all_wait(procs, errs)
        finally:
            if store.engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK_KEY})
            conn.rollback()
    outs = [p.communicate(timeout=STARTUP_S)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [e.read_text() for e in errs]
    assert all("event log intact" in o for o in outs), outs
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
        assert conn.execute(text("SELECT count(*) FROM chain_head")).scalar_one() == 1
    store.close()


def test_extension_over_the_limit_is_refused(db_url: str, tmp_path: Path) -> None:
    from relearn_tui import operations

    store = Store(db_url)
    rid = add_request(store, tmp_path)
    operations.extend_deadline(store, rid, months=2, actor="op", reason="busy", late=True)
    with pytest.raises(workflow.WorkflowError, match="at most 2"):
        operations.extend_deadline(store, rid, months=1, actor="op", reason="again", late=True)
    with store.read() as s:
        assert workflow.get_request(s, rid).extension_months == 2
    store.close()


def test_two_imports_of_one_batch_at_once(db_url: str, tmp_path: Path) -> None:
    """The second import finds the first one's requests (unchanged), instead of failing on
    PostgreSQL with a UniqueViolation whose traceback printed the subject's name."""
    batch = write_jsonl(tmp_path / "batch.jsonl", [request_obj(f"DSR-B-{i}") for i in range(5)])
    store = _store(db_url, tmp_path / "home")
    errs = [tmp_path / f"err-{i}" for i in range(2)]
    procs = _start_queued(store, [["--headless", "--json", "--db", db_url, str(batch)]] * 2,
                          tmp_path / "home", errs)
    outs = [p.communicate(timeout=STARTUP_S)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e.read_text() for e in errs]
    counts = sorted((json.loads(o)["imported"], json.loads(o)["unchanged"]) for o in outs)
    assert counts == [(0, 5), (5, 0)]
    with store.read() as s:
        assert len(s.exec(select(Event)).all()) == 5
        assert workflow.verify_chain(s).ok
    store.close()
