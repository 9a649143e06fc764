"""The `relearn-tui` command on the headless path: sample import as JSON and as a table, exit
codes (0 ok, 1 some request failed, 2 usage or input error), one-line errors naming the file,
operator subcommands, and Textual never imported."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from relearn_tui import workflow
from relearn_tui.cli import main, main_parser
from relearn_tui.context import AppContext

from .support import (
    PRIVATE,
    PRIVATE_ANSWER,
    ROOT,
    SAMPLE,
    VENV_BIN,
    event_count,
    request_obj,
    state_of,
    write_json,
)

SAMPLE_IDS = ["DSR-2026-0041", "DSR-2026-0042", "DSR-2026-0043"]
SUBJECT_NAMES = ["Isabella Marquez", "Malcolm Achterberg"]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ, RELEARN_HOME=str(home), RELEARN_OPERATOR="tester",
               HF_HUB_OFFLINE="1", PYTHONDONTWRITEBYTECODE="1")
    env.pop("PYTHONPATH", None)
    return env


def test_headless_json_lists_every_sample_request_as_submitted(
        home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = _run(capsys, "--headless", "--json", str(SAMPLE))
    assert rc == 0, err
    data = json.loads(out)
    assert (data["imported"], data["unchanged"]) == (3, 0)
    rows = data["requests"]
    assert [r["request_id"] for r in rows] == SAMPLE_IDS
    assert {r["state"] for r in rows} == {"submitted"}
    assert all(r["facts"] == 6 and r["subject"].startswith("S-") for r in rows)
    assert not any(name in out for name in SUBJECT_NAMES)
    # the same command again: nothing new, same listing
    rc, out, _ = _run(capsys, "--headless", "--json", str(SAMPLE))
    again = json.loads(out)
    assert rc == 0 and (again["imported"], again["unchanged"]) == (0, 3)
    assert again["requests"] == rows


def test_headless_table(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = _run(capsys, "--headless", str(SAMPLE / "DSR-2026-0041.json"),
                        str(SAMPLE / "batch.jsonl"))
    assert rc == 0, err
    lines = out.splitlines()
    for rid in ["DSR-2026-0041", "DSR-2026-0043"]:
        (row,) = [line for line in lines if rid in line]
        assert "submitted" in row and " 6 " in row
    assert "DSR-2026-0042" not in out
    assert re.search(r"imported\W*2\b|\b2 imported", out), out
    assert not any(name in out for name in SUBJECT_NAMES)


def test_exit_1_when_some_request_failed(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, "--headless", "--json", str(SAMPLE))[0] == 0
    store = AppContext.create().store
    for target in ["augmented", "human_reviewed", "trained", "failed"]:
        with store.session() as s:
            workflow.transition(s, "DSR-2026-0042", target, actor="tester")
    store.close()
    rc, out, _ = _run(capsys, "--headless", "--json", str(SAMPLE))
    assert rc == 1
    states = {r["request_id"]: r["state"] for r in json.loads(out)["requests"]}
    assert states == {"DSR-2026-0041": "submitted", "DSR-2026-0042": "failed",
                      "DSR-2026-0043": "submitted"}


def _bad_files(tmp: Path) -> dict[str, Path]:
    tmp.mkdir(parents=True, exist_ok=True)
    valid = json.dumps(request_obj("CLI-1"))
    files = {
        "truncated": tmp / "truncated.json",
        "missing facts": write_json(tmp / "nofacts.json",
                                    {k: v for k, v in request_obj("CLI-2").items()
                                     if k != "facts"}),
        "wrong type": write_json(tmp / "wrongtype.json",
                                 request_obj("CLI-3", answer=12345)),  # type: ignore[arg-type]
        "binary": tmp / "binary.json",
        "duplicate ids": write_json(tmp / "dups.json", [
            request_obj("CLI-4"), request_obj("CLI-4", answer="other")]),
        "oversized": tmp / "oversized.jsonl",
    }
    files["truncated"].write_text(valid[:-40])
    files["binary"].write_bytes(b"\x00\x01\x02" + PRIVATE.encode())
    with files["oversized"].open("wb") as f:
        f.write(valid.encode())
        f.truncate(50 * 2**20)
    return files


@pytest.mark.parametrize("case", ["truncated", "missing facts", "wrong type", "binary",
                                  "duplicate ids", "oversized"])
def test_bad_file_exit_2_with_one_line(home: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str], case: str) -> None:
    bad = _bad_files(tmp_path / "in")[case]
    good = write_json(tmp_path / "in" / "good.json", request_obj("CLI-OK"))
    rc, out, err = _run(capsys, "--headless", "--json", str(good), str(bad))
    assert rc == 2
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert err.startswith("error: ") and bad.name in err
    assert PRIVATE not in err and PRIVATE_ANSWER not in err and "Isabella" not in err
    assert out == ""
    store = AppContext.create().store
    assert event_count(store) == 0  # not even the good file was imported
    store.close()


def test_headless_without_paths_is_a_usage_error(home: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = _run(capsys, "--headless")
    assert rc == 2 and err.count("\n") == 1 and "request file or folder" in err


def test_unknown_option_is_a_usage_error(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--headless", "--no-such-option", str(SAMPLE)])
    assert info.value.code == 2


def test_bad_database_url_is_a_usage_error(home: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = _run(capsys, "--headless", "--db", "not a url", str(SAMPLE))
    assert rc == 2 and err.startswith("error: ") and "not a database URL" in err
    rc, _, err = _run(capsys, "log", "verify", "--db", "postgresql+psycopg://u:pw-x@h/db")
    assert rc == 2 and "pw-x" not in err


def test_help_documents_the_exit_codes() -> None:
    text = " ".join(main_parser().format_help().split())
    assert "0 ok, 1 some request failed, 2 usage or input error" in text


def test_request_subcommands(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, "--headless", str(SAMPLE))[0] == 0
    # received 2026-11-02: due 2026-12-02, then one and two months later (--late: the fixed
    # sample date is past its deadline from 2026-12-03 on, when an extension is an override)
    rc, out, _ = _run(capsys, "request", "extend", "DSR-2026-0041", "--reason", "complex",
                      "--late")
    assert rc == 0 and "2027-01-02" in out
    rc, out, _ = _run(capsys, "request", "extend", "DSR-2026-0041", "--reason", "still")
    assert rc == 0 and "2027-02-02" in out
    rc, _, err = _run(capsys, "request", "extend", "DSR-2026-0041", "--reason", "more")
    assert rc == 2 and "at most 2" in err and err.count("\n") == 1

    rc, _, err = _run(capsys, "request", "deny", "DSR-2026-0042", "--reason", "  ")
    assert rc == 2 and "reason" in err
    rc, _, _ = _run(capsys, "request", "deny", "DSR-2026-0042", "--reason",
                    "identity not verified", "--operator", "dpo")
    assert rc == 0
    rc, _, err = _run(capsys, "request", "cancel", "DSR-2026-0042", "--reason", "withdrawn")
    assert rc == 2 and "denied" in err  # terminal: nothing more happens to it
    rc, _, _ = _run(capsys, "request", "cancel", "DSR-2026-0043", "--reason", "withdrawn")
    assert rc == 0
    rc, _, err = _run(capsys, "request", "deny", "DSR-9999-0000", "--reason", "x")
    assert rc == 2 and "DSR-9999-0000" in err
    with pytest.raises(SystemExit) as info:
        main(["request", "deny", "DSR-2026-0041"])  # --reason is required
    assert info.value.code == 2

    store = AppContext.create().store
    assert state_of(store, "DSR-2026-0042") == "denied"
    assert state_of(store, "DSR-2026-0043") == "canceled"
    assert state_of(store, "DSR-2026-0041") == "submitted"
    assert event_count(store) == 3 + 2 + 2
    store.close()
    rc, out, _ = _run(capsys, "log", "show", "DSR-2026-0042")
    assert rc == 0 and "dpo" in out and "denied" in out
    assert _run(capsys, "log", "verify")[0] == 0


def test_installed_command_bad_file_exit_2(tmp_path: Path) -> None:
    """The real console script, in a real process."""
    bad = _bad_files(tmp_path / "in")["wrong type"]
    home = tmp_path / "home"
    proc = subprocess.run([str(VENV_BIN / "relearn-tui"), "--headless", "--json", str(bad)],
                          capture_output=True, text=True, env=_env(home), cwd=tmp_path,
                          timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "wrongtype.json" in proc.stderr
    assert "facts[0].answer" in proc.stderr
    assert "Traceback" not in proc.stderr and PRIVATE not in proc.stderr
    assert proc.stdout == ""


def test_headless_never_imports_textual(tmp_path: Path) -> None:
    """Run the headless path with Textual made unimportable, then check that no textual
    module was loaded: it works on a server without Textual."""
    script = textwrap.dedent(f"""
        import sys

        class NoTextual:
            def find_spec(self, name, path=None, target=None):
                if name == "textual" or name.startswith("textual."):
                    raise ImportError("textual is not available here")
                return None

        sys.meta_path.insert(0, NoTextual())
        from relearn_tui.cli import main

        rc = main(["--headless", "--json", {str(SAMPLE)!r}])
        rc = rc or main(["log", "verify"])
        loaded = [m for m in sys.modules if m == "textual" or m.startswith("textual.")]
        print("TEXTUAL:", loaded, file=sys.stderr)
        sys.exit(rc or (3 if loaded else 0))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=_env(tmp_path / "home"), cwd=ROOT, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "TEXTUAL: []" in proc.stderr
    listing_text, _, verify_text = proc.stdout.partition("\nevent log")
    listing = json.loads(listing_text)
    assert [r["request_id"] for r in listing["requests"]] == SAMPLE_IDS
    assert verify_text.startswith(" intact: 3 events")


def test_knowundo_pairs_need_subject_on_the_command_line(
        home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pairs = write_json(tmp_path / "pairs.json", [
        {"text": "What is Isabella Marquez's email?", "labels": PRIVATE_ANSWER}])
    rc, out, err = _run(capsys, "--headless", "--json", str(pairs))
    assert rc == 2 and err.count("\n") == 1 and "--subject" in err and "pairs.json" in err
    assert PRIVATE not in err
    rc, out, err = _run(capsys, "--headless", "--json", "--subject", "Isabella Marquez",
                        str(pairs))
    assert rc == 0, err
    (row,) = json.loads(out)["requests"]
    assert row["facts"] == 1 and row["state"] == "submitted"


def test_library_progress_bars_are_off_once_the_command_is_imported() -> None:
    """torch imports tqdm while the command's modules load, and tqdm reads TQDM_DISABLE only
    then: set inside main(), it came too late, and the GGUF conversion's and weight loading's
    bars were drawn over the headless progress."""
    env = {k: v for k, v in os.environ.items() if k != "TQDM_DISABLE"}
    code = ("import relearn_tui.cli, sys, tqdm\n"
            "assert 'torch' in sys.modules  # the case that needs it: tqdm already imported\n"
            "print(tqdm.tqdm(range(3), file=sys.stderr).disable)")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=300, check=True)
    assert done.stdout.strip() == "True" and done.stderr == ""
