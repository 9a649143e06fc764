"""`report --out` (issue #24, item 3) writes only a new regular file or over a report it wrote
before: never the database, the secret, a device, a folder, a link or any other file."""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from relearn_tui.cli import main

from .support import request_obj, write_json

RID = "DSR-OUT-9"


@pytest.fixture
def imported(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    assert main(["--headless", str(write_json(tmp_path / "r.json", request_obj(RID)))]) == 0
    capsys.readouterr()
    return home


def _report(capsys: pytest.CaptureFixture[str], out: str | Path,
            fmt: str = "md") -> tuple[int, str, str]:
    rc = main(["report", RID, "--format", fmt, "--out", str(out)])
    o, e = capsys.readouterr()
    return rc, o, e


def _exports(capsys: pytest.CaptureFixture[str]) -> int:
    assert main(["log", "show", RID]) == 0
    return capsys.readouterr().out.count("report_exported")


def _settled_bytes(path: Path) -> bytes:
    """The file's bytes; for the database, after folding its WAL into it. The database is in
    WAL mode, so its main file changes whenever any connection checkpoints (closing the last
    one does), whether or not anything was written; comparing settled files compares content."""
    if path.name == "relearn.db":
        with closing(sqlite3.connect(path)) as con:
            busy, _, _ = con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        assert busy == 0, "another connection kept the WAL from being checkpointed"
    return path.read_bytes()


@pytest.mark.parametrize("victim", ["relearn.db", "secret.key"])
def test_never_the_database_or_the_secret(imported: Path, victim: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    target = imported / victim
    before = _settled_bytes(target)
    rc, _, err = _report(capsys, target)
    assert rc == 2 and "not a relearn-tui report" in err
    assert _settled_bytes(target) == before
    assert sqlite3.connect(imported / "relearn.db").execute(
        "SELECT count(*) FROM request").fetchone() == (1,)
    assert main(["log", "verify"]) == 0


def test_never_a_device_folder_link_or_other_file(imported: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    other = tmp_path / "notes.md"
    other.write_text("my own notes\n")
    earlier = tmp_path / "earlier.md"
    assert _report(capsys, earlier)[0] == 0
    link = tmp_path / "link.md"
    link.symlink_to(earlier)
    for target, problem in ((Path(os.devnull), "not a regular file"),
                            (folder, "is a folder"), (link, "not a regular file"),
                            (other, "not a relearn-tui report")):
        rc, _, err = _report(capsys, target)
        assert rc == 2 and problem in err, (target, err)
        assert len(err.strip().splitlines()) == 1
    assert other.read_text() == "my own notes\n"
    assert list(folder.iterdir()) == [] and link.is_symlink()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert _exports(capsys) == 1  # only the one that was written


def test_new_file_then_over_its_own_earlier_report(imported: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    for fmt in ("md", "html", "json"):
        target = tmp_path / f"report.{fmt}"
        assert _report(capsys, target, fmt)[0] == 0
        first = target.read_text()
        assert _report(capsys, target, fmt)[0] == 0  # again: over its own report
        assert target.read_text().split("\n")[0] == first.split("\n")[0]
    # a report of one format is still ours when another format is written over it
    assert _report(capsys, tmp_path / "report.md", "json")[0] == 0
    assert _exports(capsys) == 7


def test_stdout(imported: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = _report(capsys, "-", "json")
    assert rc == 0 and out.startswith('{\n  "schema": "relearn-tui/request-report/')


def test_mode_new_by_umask_rewritten_kept(imported: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A new report takes the umask like any file the operator makes; writing it again keeps
    the mode the operator gave it (not the temporary file's 0600)."""
    target = tmp_path / "mode.md"
    old = os.umask(0o027)
    try:
        assert _report(capsys, target)[0] == 0
    finally:
        os.umask(old)
    assert target.stat().st_mode & 0o777 == 0o640
    target.chmod(0o644)
    assert _report(capsys, target)[0] == 0
    assert target.stat().st_mode & 0o777 == 0o644
