"""The smaller items of issue #24: an unreadable subfolder stops a folder import, the
database file is created owner-only, RUN- ids are refused for requests, duplicate JSON keys
are refused, and a FIFO or a symlink loop is named for what it is."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from relearn_tui.cli import main
from relearn_tui.importer import RequestFileError, parse_file, request_files

from .support import request_obj, write_json


def test_unreadable_subfolder_stops_the_import(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "inbox"
    write_json(folder / "a.json", request_obj("S-1"))
    write_json(folder / "locked" / "b.json", request_obj("S-2"))
    real = os.scandir

    def scandir(path=".", *args, **kwargs):  # what chmod 000 does for a user who is not root
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(RequestFileError, match="locked: cannot read this folder"):
        request_files([folder])


def test_database_file_is_owner_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "shared-home"
    home.mkdir(mode=0o755)
    os.chmod(home, 0o755)
    monkeypatch.setenv("RELEARN_HOME", str(home))
    old = os.umask(0o022)
    try:
        assert main(["--headless", str(write_json(tmp_path / "r.json", request_obj("P-1")))]) == 0
    finally:
        os.umask(old)
    for name in ("relearn.db", "relearn.db-wal", "relearn.db-shm"):
        if (home / name).exists():
            assert stat.S_IMODE((home / name).stat().st_mode) & 0o077 == 0, name


def test_run_prefix_is_not_a_request_id(tmp_path: Path) -> None:
    for rid in ("RUN-0001", "run-7"):
        with pytest.raises(RequestFileError, match="must not start with RUN-"):
            parse_file(write_json(tmp_path / "r.json", request_obj(rid)))


@pytest.mark.parametrize("raw", [
    '{"request_id": "D-1", "request_id": "D-2", "subject": {"name": "A B"}, '
    '"facts": [{"question": "q", "answer": "a"}]}',
    '{"subject": {"name": "A B", "name": "C D"}, "facts": [{"question": "q", "answer": "a"}]}',
    '{"subject": {"name": "A B"}, "facts": [{"question": "q", "question": "r", "answer": "a"}]}',
    '{"subject": {"name": "A B"}, "x@y.org": 1, "x@y.org": 2, '
    '"facts": [{"question": "q", "answer": "a"}]}',
])
def test_duplicate_keys_are_refused(tmp_path: Path, raw: str) -> None:
    path = tmp_path / "dup.json"
    path.write_text(raw)
    with pytest.raises(RequestFileError, match="appears twice") as info:
        parse_file(path)
    assert "x@y.org" not in str(info.value)
    jsonl = tmp_path / "dup.jsonl"
    jsonl.write_text(json.dumps(request_obj("OK-1")) + "\n" + raw + "\n")
    with pytest.raises(RequestFileError, match="line 2"):
        parse_file(jsonl)


def test_fifo_and_symlink_loop_are_named(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    with pytest.raises(RequestFileError, match="not a regular file or folder"):
        request_files([fifo])
    loop = tmp_path / "loop.json"
    loop.symlink_to(loop)
    with pytest.raises(RequestFileError, match="symbolic link loop"):
        request_files([loop])
    with pytest.raises(RequestFileError, match="no such file or folder"):
        request_files([tmp_path / "absent.json"])
