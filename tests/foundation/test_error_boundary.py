"""The command line's one error boundary (issue #24, item 2): every input that used to end in a
traceback ends in one line and its exit code; database failures on SQLite and PostgreSQL end
in one line too, with nothing imported, and neither stderr nor the log holds a private value
of the request being written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from relearn_tui import errors
from relearn_tui.cli import main
from relearn_tui.store import db as store_db
from relearn_tui.store import models

from .support import PRIVATE, PRIVATE_ANSWER, request_obj, write_json

NAME, REFERENCE = "Isabella Marquez", "crm-88213"
PRIVATE_VALUES = [NAME, REFERENCE, PRIVATE, PRIVATE_ANSWER]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


def _log(home: Path) -> str:
    path = home / "logs" / "relearn-tui.log"
    return path.read_text(encoding="utf-8") if path.exists() else ""


def _assert_no_private(*texts: str) -> None:
    for t in texts:
        for value in PRIVATE_VALUES:
            assert value.lower() not in t.lower(), value


def test_every_expected_error_class_has_the_one_root() -> None:
    from relearn_tui.deployment import DeploymentError
    from relearn_tui.importer import RequestFileError
    from relearn_tui.paths import HomeError, SecretError
    from relearn_tui.probing import ProbeError
    from relearn_tui.reports import ReportError
    from relearn_tui.store import StoreBusy, StoreError
    from relearn_tui.workflow import WorkflowError

    for cls in (DeploymentError, RequestFileError, HomeError, SecretError, ProbeError,
                ReportError, StoreError, WorkflowError):
        assert issubclass(cls, errors.OperatorError), cls
        assert errors.exit_code_for(cls("x") if cls is not RequestFileError
                                    else cls("f", "", "", "x")) == errors.EXIT_USAGE
    assert errors.exit_code_for(StoreBusy("busy")) == errors.EXIT_UNAVAILABLE
    assert errors.exit_code_for(RuntimeError("bug")) == errors.EXIT_INTERNAL


def test_the_engines_input_errors_are_the_operators_not_bugs() -> None:
    """A model that cannot be loaded or a training setting out of range is an input error
    (exit 2, one line) in both front ends; the CLI said 'unexpected ModelError' (exit 4)."""
    from engine.bundled import BundledModelError
    from engine.models import ModelError
    from engine.train.config import ConfigError
    from engine.train.data import DataError

    for exc in (ModelError("cannot load /m/x.gguf: 'reason'\nline two"),
                BundledModelError("missing package"), ConfigError("lr must be > 0"),
                DataError("no forget rows")):
        known = errors.as_operator_error(exc)
        assert known is not None and errors.exit_code_for(exc) == errors.EXIT_USAGE
        assert "\n" not in str(known) and "'reason'" not in str(known)


@pytest.mark.parametrize("operator", [" ", "", "a" * 129, "bob\x1b[31m", "line\nbreak",
                                      "evil\u202eeman"])
def test_bad_operator_is_one_line(home: Path, capsys: pytest.CaptureFixture[str],
                                  operator: str) -> None:
    rc, _, err = _run(capsys, "log", "verify", "--operator", operator)
    assert rc == 2
    line = _one_error_line(err)
    assert "--operator" in line and "\x1b" not in line and "\u202e" not in line


def test_long_operator_on_every_database(db_url: str, tmp_path: Path, home: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """PostgreSQL used to print the INSERT's parameters (the subject's name) in a traceback."""
    path = write_json(tmp_path / "r.json", request_obj("DSR-LONG-1"))
    rc, out, err = _run(capsys, "--headless", "--db", db_url, "--operator", "x" * 300,
                        str(path))
    assert rc == 2
    _one_error_line(err)
    _assert_no_private(out, err, _log(home))


def test_relearn_home_that_is_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    for home in (blocker, blocker / "under"):
        monkeypatch.setenv("RELEARN_HOME", str(home))
        rc, _, err = _run(capsys, "log", "verify")
        assert rc == 2
        assert "RELEARN_HOME" in _one_error_line(err)


def test_secret_that_is_a_folder(home: Path, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    (home / "secret.key").mkdir(parents=True)
    path = write_json(tmp_path / "r.json", request_obj("DSR-SEC-1"))
    rc, _, err = _run(capsys, "--headless", str(path))
    assert rc == 2
    assert "secret" in _one_error_line(err)


def test_request_file_name_that_is_not_utf8(home: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    raw = bytes(folder) + b"/\xff\xfe " + NAME.encode() + b".json"
    with open(raw, "w", encoding="utf-8") as fh:
        json.dump(request_obj("DSR-UTF-1"), fh)
    rc, out, err = _run(capsys, "--headless", str(folder))
    assert rc == 0, err
    rc, out, err = _run(capsys, "log", "show")
    assert rc == 0 and "DSR-UTF-1" in out
    rc, out2, _ = _run(capsys, "report", "DSR-UTF-1", "--format", "json", "--out", "-")
    assert rc == 0
    _assert_no_private(out, out2, err, _log(home))


@pytest.mark.parametrize("where", ["under-a-file", "a-folder"])
def test_report_out_that_cannot_be_written(home: Path, tmp_path: Path, where: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    path = write_json(tmp_path / "r.json", request_obj("DSR-OUT-1"))
    assert _run(capsys, "--headless", str(path))[0] == 0
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    folder = tmp_path / "folder"
    folder.mkdir()
    out = blocker / "r.md" if where == "under-a-file" else folder
    rc, _, err = _run(capsys, "report", "DSR-OUT-1", "--out", str(out))
    assert rc == 2
    assert str(out) in _one_error_line(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker", "folder", "r.json",
                                                          "relearn-home"]
    assert list(folder.iterdir()) == []


def test_report_to_closed_stdout(home: Path, tmp_path: Path) -> None:
    path = write_json(tmp_path / "r.json", request_obj("DSR-OUT-2"))
    env = {"RELEARN_HOME": str(home), "RELEARN_OPERATOR": "tester", "PATH": "/usr/bin:/bin"}
    cmd = [sys.executable, "-m", "relearn_tui.cli"]
    assert subprocess.run([*cmd, "--headless", str(path)], env=env, capture_output=True,
                          timeout=120).returncode == 0
    for closed in ("exec 1>&-", "exec 1>/dev/full"):
        proc = subprocess.run(["bash", "-c", f'{closed}; exec "$@"', "_", *cmd, "report",
                               "DSR-OUT-2", "--out", "-"], env=env, capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == 2, proc.stderr
        assert "standard output" in _one_error_line(proc.stderr)


# -- forced database failures ----------------------------------------------------------------

def _install_failing_trigger(url: str, how: str) -> None:
    """Make the next fact insert fail inside the import's transaction."""
    engine = create_engine(url)
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("CREATE TRIGGER fail_fact BEFORE INSERT ON fact BEGIN "
                                 "SELECT RAISE(ABORT, 'forced failure'); END")
        else:
            body = ("PERFORM pg_terminate_backend(pg_backend_pid());" if how == "disconnect"
                    else "RAISE EXCEPTION 'forced failure';")
            conn.exec_driver_sql("CREATE FUNCTION fail_fact() RETURNS trigger AS $$ BEGIN "
                                 f"{body} RETURN NEW; END $$ LANGUAGE plpgsql")
            conn.exec_driver_sql("CREATE TRIGGER fail_fact BEFORE INSERT ON fact "
                                 "FOR EACH ROW EXECUTE FUNCTION fail_fact()")
    engine.dispose()


@pytest.mark.parametrize("how", ["error", "disconnect"])
def test_database_failure_mid_import(db_url: str, tmp_path: Path, home: Path, how: str,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    if how == "disconnect" and db_url.startswith("sqlite"):
        pytest.skip("a SQLite file has no server to lose")
    store_db.Store(db_url).close()  # migrated, so the trigger has its table
    _install_failing_trigger(db_url, how)
    path = write_json(tmp_path / f"{NAME}.json", request_obj("DSR-FAIL-1"))
    rc, out, err = _run(capsys, "--headless", "--db", db_url, str(path))
    line = _one_error_line(err)
    if how == "disconnect":
        assert rc == errors.EXIT_UNAVAILABLE and "unavailable" in line
    else:
        assert rc == errors.EXIT_INTERNAL and "unexpected" in line
        assert "Traceback" in _log(home) and "forced failure" in _log(home)
    _assert_no_private(out, err, _log(home))
    engine = create_engine(db_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM request")).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM event")).scalar_one() == 0
    engine.dispose()


def test_busy_database_is_not_an_input_error(db_url: str, tmp_path: Path, home: Path,
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(store_db, "NOTICE_AFTER_MS", 100)
    monkeypatch.setattr(store_db, "BUSY_TIMEOUT_MS", 300)
    store = store_db.Store(db_url)
    path = write_json(tmp_path / "r.json", request_obj("DSR-BUSY-1"))
    with store.session():  # another writer holds the lock throughout
        rc, out, err = _run(capsys, "--headless", "--db", db_url, str(path))
    assert rc == errors.EXIT_UNAVAILABLE
    assert store_db.WAIT_NOTICE in err
    assert "busy" in err.splitlines()[-1] and "Traceback" not in err
    _assert_no_private(out, err)
    with store.read() as s:
        assert s.get(models.Request, "DSR-BUSY-1") is None
    store.close()


def test_scrub_removes_values_and_parameters() -> None:
    message = ("(psycopg.errors.UniqueViolation) duplicate key\nDETAIL: Key (name)=(Quinn) "
               "already exists.\n[SQL: INSERT INTO request VALUES (%s)]\n"
               "[parameters: ('Quinn Harlow', 'quinn.harlow@example.org')]\n"
               "KeyError: 'Quinn Harlow' at +1 555 014 2211 or quinn@example.org")
    out = errors.scrub(message, ["Harlow"])
    for value in ("Quinn", "Harlow", "quinn.harlow@example.org", "555 014 2211"):
        assert value not in out
    assert "duplicate key" in out and "INSERT INTO request" in out
