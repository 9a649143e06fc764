"""Processes that open one new SQLite file at the same moment all start: the switch to WAL
needs the file's exclusive lock, and SQLite returns "database is locked" for it at once,
without its busy handler, when another connection is opening the file (seen in CI as a failed
start of one of two processes). Each round uses a new file; the workers wait for one signal."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

WORKERS = 4
ROUNDS = 40

_WORKER = textwrap.dedent("""
    import os, sys, time
    from relearn_tui.store.db import make_engine
    from sqlalchemy import text
    folder, rounds = sys.argv[1], int(sys.argv[2])
    open(os.path.join(folder, f"ready-{os.getpid()}"), "w").close()
    for i in range(rounds):
        go = os.path.join(folder, f"go-{i}")
        while not os.path.exists(go):
            time.sleep(0.0005)
        engine = make_engine(f"sqlite:///{os.path.join(folder, f'db-{i}.sqlite')}")
        with engine.connect() as conn:
            mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
        engine.dispose()
        assert mode == "wal", mode
        open(os.path.join(folder, f"done-{i}-{os.getpid()}"), "w").close()
""")


def test_processes_opening_a_new_file_together_all_start(tmp_path: Path) -> None:
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER, str(tmp_path), str(ROUNDS)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(WORKERS)]
    try:
        limit = time.monotonic() + 120
        while len(list(tmp_path.glob("ready-*"))) < WORKERS:
            assert time.monotonic() < limit, "workers did not start"
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
            time.sleep(0.01)
        for i in range(ROUNDS):
            (tmp_path / f"go-{i}").touch()
            while len(list(tmp_path.glob(f"done-{i}-*"))) < WORKERS:
                assert time.monotonic() < limit + 120, f"round {i} did not finish"
                assert all(p.poll() in (None, 0) for p in procs), \
                    [p.communicate()[1][-2000:] for p in procs if p.poll()]
                time.sleep(0.002)
        for p in procs:
            _, err = p.communicate(timeout=60)
            assert p.returncode == 0, err[-2000:]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
