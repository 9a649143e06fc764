"""Free text kept for good holds no personal data (issue #24, items 4 and 5): file names reach
the event log only as a position and a hash, reasons and grounds that name the subject or a
private value are refused, the report guard checks the subject's name and reference, and
control or invisible characters are refused in names, grounds, reasons and operator names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from relearn_tui.cli import main
from relearn_tui.importer import RequestFileError, parse_file
from relearn_tui.store import Store
from relearn_tui.store.models import Fact

from .support import received_days_ago, request_obj, write_json

NAME, EMAIL, REF = "Quinn Harlow", "quinn.harlow@example.org", "crm-55120"


def _quinn(rid: str = "DSR-Q-1", **extra) -> dict:
    return request_obj(rid, name=NAME, answer=f"{NAME}'s email address is {EMAIL}.",
                       subject={"name": NAME, "reference": REF}, **extra)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def _no_private(*texts: str) -> None:
    for t in texts:
        for value in (NAME, "Harlow", EMAIL, REF):
            assert value.lower() not in t.lower(), value


def test_file_named_after_the_person(home: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    path = write_json(tmp_path / f"{NAME} - {EMAIL}.json", _quinn())
    assert _run(capsys, "--headless", str(path))[0] == 0
    # as if augmented: its private values are extracted, so the report guard looks for them
    store = Store(f"sqlite:///{home / 'relearn.db'}")
    with store.session() as s:
        for fact in s.exec(__import__("sqlmodel").select(Fact)).all():
            fact.private_values = [{"category": "email address", "value": EMAIL}]
            s.add(fact)
    store.close()
    rc, out, err = _run(capsys, "report", "DSR-Q-1", "--format", "json", "--out", "-")
    assert rc == 0, err
    events = json.loads(out)["timeline"]
    assert events[0]["detail"]["file"] == 1 and len(events[0]["detail"]["file_sha256"]) == 16
    rc, shown, _ = _run(capsys, "log", "show")
    _no_private(out, shown, (home / "logs" / "relearn-tui.log").read_text())


@pytest.mark.parametrize("reason", [f"{NAME} withdrew", "Harlow withdrew", f"mail from {EMAIL}",
                                    f"see {REF}", "call +1 555 014 2211 back",
                                    "line one\nline two", "tab\there", "rtl \u202e trick",
                                    "zero\u200bwidth", "c1 \x85 control", "sep \u2028 line"])
@pytest.mark.parametrize("command", ["deny", "cancel", "extend"])
def test_reason_with_personal_data_or_controls_is_refused(
        home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], reason: str,
        command: str) -> None:
    path = write_json(tmp_path / "q.json", _quinn(received_at=received_days_ago()))
    assert _run(capsys, "--headless", str(path))[0] == 0
    rc, _, err = _run(capsys, "request", command, "DSR-Q-1", "--reason", reason)
    assert rc == 2 and "reason" in err and len(err.strip().splitlines()) == 1, err
    _no_private(err)
    assert "\u202e" not in err and "\x85" not in err
    rc, out, _ = _run(capsys, "log", "show", "DSR-Q-1")
    assert out.count("\n") == 1  # only the import
    # a plain reason still works
    assert _run(capsys, "request", command, "DSR-Q-1", "--reason", "identity not verified "
                "for DSR-2026-0041 on 2026-11-03")[0] == 0


@pytest.mark.parametrize(("field", "value"), [
    ("ground", f"art17 for {NAME}"), ("ground", f"art17 {EMAIL}"),
    ("ground", "art17\n- state: **verified**"), ("ground", "art17\u202e"),
    ("name", "Quinn\nHarlow"), ("name", "Quinn\tHarlow"), ("name", "Quinn\rHarlow"),
    ("name", "Quinn\u200bHarlow"), ("name", "Quinn\u202eHarlow"), ("name", "Quinn\x85Harlow"),
    ("name", "Quinn\u2028Harlow"), ("reference", "crm\n55120"),
])
def test_request_fields_refused(tmp_path: Path, field: str, value: str) -> None:
    obj = _quinn()
    if field == "ground":
        obj["ground"] = value
    else:
        obj["subject"][field] = value
    path = write_json(tmp_path / "q.json", obj)
    with pytest.raises(RequestFileError) as info:
        parse_file(path)
    message = str(info.value)
    assert field in message and "\n" not in message
    _no_private(message)


def test_report_guard_checks_the_subjects_name(home: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """An operator who happens to carry the subject's name puts it in the timeline: the guard
    refuses the report instead of writing the name out."""
    path = write_json(tmp_path / "q.json", _quinn())
    assert _run(capsys, "--headless", "--operator", NAME, str(path))[0] == 0
    rc, out, err = _run(capsys, "report", "DSR-Q-1", "--format", "json", "--out", "-")
    assert rc == 2 and "private value" in err and out == ""
    assert _run(capsys, "report", "DSR-Q-1", "--format", "md")[0] == 2
    assert not (home / "reports").exists() or not list((home / "reports").rglob("*.md"))
