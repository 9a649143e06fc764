"""The hash-chained event log: the hash formula, and tampering behind the tool's back (edited,
deleted, inserted, reordered rows) caught by verify_chain and by `relearn-tui log verify`."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import select

from relearn_tui import workflow
from relearn_tui.cli import main
from relearn_tui.context import AppContext
from relearn_tui.store import Event, Store

from .support import add_request


def _sql(store: Store, sql: str, **params) -> None:
    """Change the database directly, as an attacker with file access would."""
    with store.engine.begin() as conn:
        conn.execute(text(sql), params)


def _event_ids(store: Store) -> list[int]:
    with store.engine.connect() as conn:
        return list(conn.execute(text("SELECT id FROM event ORDER BY id")).scalars())


def _check(store: Store, batch: int = 5000) -> workflow.ChainCheck:
    with store.session() as s:
        return workflow.verify_chain(s, batch=batch)


@pytest.fixture
def chained(store: Store, tmp_path: Path) -> Store:
    """Three requests and eleven events, including a decision without a state change."""
    a = add_request(store, tmp_path, "human_reviewed")
    add_request(store, tmp_path, "denied")
    add_request(store, tmp_path, "failed")
    with store.session() as s:
        workflow.record_event(s, a, actor="alice", action="variant_approved",
                              detail={"variant": 3, "note": "fine"})
    assert _check(store).ok
    assert len(_event_ids(store)) == 11
    return store


def test_hash_is_sha256_of_prev_hash_and_canonical_json(store: Store, tmp_path: Path) -> None:
    """The formula of docs/design.md §3.2, recomputed here from the stored columns."""
    add_request(store, tmp_path, "augmented")
    with store.session() as s:
        events = s.exec(select(Event).order_by(Event.id)).all()
    prev = "0" * 64
    for ev in events:
        body = {"request_id": ev.request_id,
                "at": ev.at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "actor": ev.actor, "action": ev.action, "from": ev.from_state,
                "to": ev.to_state, "detail": ev.detail or {}}
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert ev.prev_hash == prev
        assert ev.hash == hashlib.sha256((prev + canonical).encode()).hexdigest()
        prev = ev.hash
    assert [e.action for e in events] == ["submitted", "augmented"]
    with store.session() as s:
        assert workflow.head_hash(s) == prev


def test_intact_chain_verifies_in_small_batches(chained: Store) -> None:
    whole, paged = _check(chained), _check(chained, batch=5)
    assert whole.ok and paged.ok
    assert whole.events == paged.events == 11
    assert whole.head_hash == paged.head_hash
    assert "intact" in whole.describe()


@pytest.mark.parametrize("column,value", [
    ("actor", "'mallory'"),
    ("detail", "json_set(detail, '$.reason', 'forged reason')"),
    ("detail", "'{}'"),
    ("action", "'approved'"),
    ("to_state", "'verified'"),
    ("request_id", "'OTHER-1'"),
    ("at", "'2020-01-01 00:00:00.000000'"),
])
def test_edited_event_is_caught_and_named(chained: Store, column: str, value: str) -> None:
    ids = _event_ids(chained)
    target = ids[5]
    _sql(chained, f"UPDATE event SET {column} = {value} WHERE id = :i", i=target)
    check = _check(chained)
    assert not check.ok
    assert check.broken_event_id == target
    assert "edited" in check.problem
    assert f"event {target}" in check.describe()


@pytest.mark.parametrize("column,value", [
    ("detail", "'{not json'"),
    ("at", "'yesterday'"),
    ("at", "42"),
])
def test_edit_that_makes_the_row_unreadable_is_caught_and_named(chained: Store, column: str,
                                                                value: str) -> None:
    """A row the database can no longer decode is a broken link too, not a crash of the
    checker."""
    ids = _event_ids(chained)
    target = ids[7]
    _sql(chained, f"UPDATE event SET {column} = {value} WHERE id = :i", i=target)
    check = _check(chained, batch=3)
    assert not check.ok
    assert check.broken_event_id == target
    assert check.events == 8


def test_edit_of_the_first_event_is_caught(chained: Store) -> None:
    first = _event_ids(chained)[0]
    _sql(chained, "UPDATE event SET actor = 'mallory' WHERE id = :i", i=first)
    assert _check(chained).broken_event_id == first


def test_two_edits_name_the_first(chained: Store) -> None:
    ids = _event_ids(chained)
    _sql(chained, "UPDATE event SET actor = 'x' WHERE id IN (:a, :b)", a=ids[3], b=ids[8])
    assert _check(chained).broken_event_id == ids[3]


def test_edit_with_recomputed_own_hash_is_caught_by_the_next_link(chained: Store) -> None:
    """An attacker who rewrites a row and its hash breaks the next event's back-link."""
    ids = _event_ids(chained)
    target = ids[4]
    with chained.session() as s:
        ev = s.get(Event, target)
        assert ev is not None
        forged = workflow.event_hash(ev.prev_hash, workflow.canonical_event(
            ev.request_id, ev.at, "mallory", ev.action, ev.from_state, ev.to_state, ev.detail))
    _sql(chained, "UPDATE event SET actor = 'mallory', hash = :h WHERE id = :i",
         h=forged, i=target)
    check = _check(chained)
    assert check.broken_event_id == ids[5]
    assert "prev_hash" in check.problem


def test_deleted_middle_event_is_caught(chained: Store) -> None:
    ids = _event_ids(chained)
    _sql(chained, "DELETE FROM event WHERE id = :i", i=ids[6])
    check = _check(chained)
    assert not check.ok
    # the first link that no longer holds is the event after the hole
    assert check.broken_event_id == ids[7]
    assert "removed" in check.problem


def test_deleted_last_event_is_caught(chained: Store) -> None:
    ids = _event_ids(chained)
    _sql(chained, "DELETE FROM event WHERE id = :i", i=ids[-1])
    check = _check(chained)
    assert not check.ok
    assert check.broken_event_id == ids[-1]
    assert "missing" in check.problem


def test_deleted_last_event_then_new_event_is_still_caught(chained: Store,
                                                          tmp_path: Path) -> None:
    ids = _event_ids(chained)
    _sql(chained, "DELETE FROM event WHERE id = :i", i=ids[-1])
    add_request(chained, tmp_path)  # SQLite may even reuse the deleted id
    check = _check(chained)
    assert not check.ok
    assert check.broken_event_id == _event_ids(chained)[-1]


def test_all_events_deleted_is_caught(chained: Store) -> None:
    _sql(chained, "DELETE FROM event")
    check = _check(chained)
    assert not check.ok and check.events == 0


def test_inserted_event_is_caught(chained: Store) -> None:
    ids = _event_ids(chained)
    with chained.session() as s:
        ev = s.get(Event, ids[2])
        assert ev is not None
        fake_at, fake_prev = ev.at, ev.hash
    digest = workflow.event_hash(fake_prev, workflow.canonical_event(
        None, fake_at, "mallory", "approved", None, None, {}))
    _sql(chained, "INSERT INTO event (id, request_id, at, actor, action, detail, prev_hash, "
                  "hash) VALUES (1000, NULL, '2026-01-01 00:00:00', 'mallory', 'approved', "
                  "'{}', :p, :h)", p=fake_prev, h=digest)
    check = _check(chained)
    assert not check.ok
    assert check.broken_event_id == 1000  # appended after the head: its link is wrong


def test_swapped_events_are_caught(chained: Store) -> None:
    ids = _event_ids(chained)
    a, b = ids[2], ids[3]
    _sql(chained, "UPDATE event SET id = -1 WHERE id = :a", a=a)
    _sql(chained, "UPDATE event SET id = :a WHERE id = :b", a=a, b=b)
    _sql(chained, "UPDATE event SET id = :b WHERE id = -1", b=b)
    check = _check(chained)
    assert not check.ok and check.broken_event_id == a


def test_tampered_chain_head_is_caught(chained: Store) -> None:
    _sql(chained, "UPDATE chain_head SET hash = :h", h="f" * 64)
    assert not _check(chained).ok


def test_log_verify_command(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`relearn-tui log verify`: exit 0 when intact; exit 1 and the event named once a row
    was edited behind the tool's back."""
    ctx = AppContext.create()
    add_request(ctx.store, home, "trained")
    assert main(["log", "verify"]) == 0
    assert "intact: 4 events" in capsys.readouterr().out
    target = _event_ids(ctx.store)[2]
    _sql(ctx.store, "UPDATE event SET detail = '{\"reason\": \"forged\"}' WHERE id = :i",
         i=target)
    ctx.store.close()
    assert main(["log", "verify"]) == 1
    out = capsys.readouterr().out
    assert f"BROKEN at event {target}" in out
