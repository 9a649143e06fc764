"""The keyed event chain (issue #24, item 7): events are HMACs with the deployment secret and
cover the request's state and data, so the forgeries the unkeyed chain could not see are
caught: an appended event with a recomputed hash, an edited request state or fact, and (with a
head recorded by `log head`) deleted newest events and a wiped log. Logs written before keep
verifying."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from relearn_tui import workflow
from relearn_tui.cli import main
from relearn_tui.context import AppContext
from relearn_tui.store import Store
from relearn_tui.store.db import migrate

from .support import SECRET, add_request, received_days_ago, request_obj, write_json


def _sql(url: str, sql: str, **params) -> None:
    """Change the database directly, as an attacker with write access to it would."""
    store = Store(url, auto_migrate=False)
    with store.engine.begin() as conn:
        conn.execute(text(sql), params)
    store.close()


def _verify(capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    rc = main(["log", "verify", *extra])
    return rc, capsys.readouterr().out


@pytest.fixture
def keyed(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """Three requests through the CLI, one denied and one extended: 5 keyed events."""
    objs = [request_obj(f"DSR-K-{i}", received_at=received_days_ago()) for i in range(3)]
    path = write_json(tmp_path / "r.json", objs)
    assert main(["--headless", str(path)]) == 0
    assert main(["request", "deny", "DSR-K-0", "--reason", "identity not verified"]) == 0
    assert main(["request", "extend", "DSR-K-1", "--months", "1", "--reason", "busy"]) == 0
    capsys.readouterr()
    rc, out = _verify(capsys)
    assert rc == 0 and "5 events (5 keyed)" in out
    return AppContext.create().db_url


REWIND = ("UPDATE chain_head SET hash = (SELECT hash FROM event ORDER BY id DESC LIMIT 1), "
          "last_event_id = (SELECT max(id) FROM event)")


def _head(capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["log", "head"]) == 0
    return capsys.readouterr().out.strip()


def test_forged_event_with_recomputed_hash(keyed: str, capsys) -> None:
    """An attacker appends a 'verified' event and recomputes its hash (and the head) the only
    way they can without the secret: it does not match."""
    store = Store(keyed)  # a bare store: no chain key, as the attacker has
    with store.session() as s:
        workflow.append_event(s, request_id="DSR-K-2", actor="mallory", action="verified",
                              from_state="submitted", to_state="verified")
    store.close()
    rc, out = _verify(capsys)
    assert rc == 1 and "unkeyed event after keyed ones" in out
    # and with a key that is not the deployment's
    _sql(keyed, "DELETE FROM event WHERE actor = 'mallory'")
    _sql(keyed, REWIND)
    assert _verify(capsys)[0] == 0
    store = Store(keyed, chain_key=workflow.chain_key(b"guessed" * 5))
    with store.session() as s:
        workflow.append_event(s, request_id="DSR-K-2", actor="mallory", action="note")
    store.close()
    rc, out = _verify(capsys)
    assert rc == 1 and "does not match its hash" in out


@pytest.mark.parametrize(("sql", "what"), [
    ("UPDATE request SET state = 'verified' WHERE id = 'DSR-K-2'", "state"),
    ("UPDATE request SET state = 'submitted' WHERE id = 'DSR-K-0'", "un-denied"),
    ("UPDATE request SET extension_months = 2 WHERE id = 'DSR-K-1'", "extension"),
    ("UPDATE fact SET answer = 'changed' WHERE request_id = 'DSR-K-2' AND position = 0",
     "fact"),
    ("DELETE FROM fact WHERE request_id = 'DSR-K-2' AND position = 1", "fact deleted"),
    ("UPDATE request SET subject_name = 'Someone Else' WHERE id = 'DSR-K-1'", "name"),
])
def test_state_or_data_edited_behind_the_log(keyed: str, capsys, sql: str, what: str) -> None:
    _sql(keyed, sql)
    rc, out = _verify(capsys)
    assert rc == 1 and "differ from what its last event recorded" in out, what


def test_truncation_and_wipe_need_a_recorded_head(keyed: str, capsys) -> None:
    recorded = _head(capsys)
    assert recorded.startswith("5:")
    assert _verify(capsys, "--head", recorded)[0] == 0
    # later events do not invalidate an earlier record
    assert main(["request", "cancel", "DSR-K-2", "--reason", "withdrawn"]) == 0
    capsys.readouterr()
    assert _verify(capsys, "--head", recorded)[0] == 0
    assert main(["report", "DSR-K-1", "--format", "md"]) == 0  # an event that changes no state
    capsys.readouterr()
    recorded_later = _head(capsys)
    # delete the newest event and rewind the head: consistent inside the database...
    _sql(keyed, "DELETE FROM event WHERE id = (SELECT max(id) FROM event)")
    _sql(keyed, REWIND)
    assert _verify(capsys)[0] == 0
    # ...but not with the record kept outside it
    rc, out = _verify(capsys, "--head", recorded_later)
    assert rc == 1 and "recorded head is not in the chain" in out
    assert _verify(capsys, "--head", recorded)[0] == 0
    # deleting an event that changed a state shows even without a record
    _sql(keyed, "DELETE FROM event WHERE id = (SELECT max(id) FROM event)")
    _sql(keyed, REWIND)
    rc, out = _verify(capsys)
    assert rc == 1 and "DSR-K-2" in out and "differ" in out
    _sql(keyed, "DELETE FROM event")
    _sql(keyed, f"UPDATE chain_head SET hash = '{'0' * 64}', last_event_id = 0")
    rc, out = _verify(capsys, "--head", recorded)
    assert rc == 1 and "recorded head is not in the chain" in out
    assert main(["log", "verify", "--head", "not-a-head"]) == 2


def test_unkeyed_log_written_before_still_verifies(home: Path, tmp_path: Path, capsys) -> None:
    """A log written at schema 0001 (sha256 chain) is migrated and keeps verifying; keyed
    events then continue it."""
    url = AppContext.create().db_url
    old = Store(url, auto_migrate=False)
    migrate(old.engine, "0001")
    prev = workflow.GENESIS_HASH
    at = workflow.utcnow()
    canonical = workflow.canonical_event(None, at, "old-version", "note", None, None, {})
    digest = workflow.event_hash(prev, canonical)
    with old.engine.begin() as conn:
        conn.execute(text("INSERT INTO event (request_id, at, actor, action, detail, prev_hash,"
                          " hash) VALUES (NULL, :at, 'old-version', 'note', '{}', :p, :h)"),
                     {"at": at, "p": prev, "h": digest})
        conn.execute(text("UPDATE chain_head SET hash = :h, last_event_id = 1"), {"h": digest})
    old.close()
    rc, out = _verify(capsys)  # migrates to 0002 on start
    assert rc == 0 and "1 events, head" in out
    add_request(Store(url), tmp_path)  # a bare store writes version 1 too
    path = write_json(tmp_path / "new.json", request_obj("DSR-K-9"))
    assert main(["--headless", str(path)]) == 0
    capsys.readouterr()
    rc, out = _verify(capsys)
    assert rc == 0 and "(1 keyed)" in out


def test_keyed_chain_needs_the_key(keyed: str) -> None:
    with Store(keyed).read() as s:
        check = workflow.verify_chain(s)
    assert not check.ok and "no deployment secret" in check.problem
    with Store(keyed, chain_key=workflow.chain_key(SECRET)).read() as s:
        assert not workflow.verify_chain(s).ok  # another deployment's secret


def test_request_added_behind_the_log(keyed: str, capsys) -> None:
    """A request row inserted directly, with no event, explains nothing: it is flagged, as
    is every request once the whole log and its head are wiped (no recorded head needed)."""
    _sql(keyed, "INSERT INTO request (id, subject_pseudonym, ground, state, received_at, "
                "extension_months, content_hash, created_at, updated_at) VALUES ('DSR-X-1', "
                "'p', 'art17-1a', 'verified', :at, 0, 'h', :at, :at)", at=workflow.utcnow())
    rc, out = _verify(capsys)
    assert rc == 1 and "DSR-X-1 has no event" in out
    _sql(keyed, "DELETE FROM request WHERE id = 'DSR-X-1'")
    assert _verify(capsys)[0] == 0
    _sql(keyed, "DELETE FROM event")
    _sql(keyed, f"UPDATE chain_head SET hash = '{workflow.GENESIS_HASH}', last_event_id = 0")
    rc, out = _verify(capsys)
    assert rc == 1 and "DSR-K-0 has no event" in out
