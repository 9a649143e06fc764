"""The request lifecycle (docs/design.md §3.1): exact state names, every allowed and every illegal
transition, terminal states, reasons for deny/cancel, and the event written in the same
transaction as the state."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from sqlmodel import select

from relearn_tui import operations, workflow
from relearn_tui.store import Event, Store

from .support import EXPECTED, PATH_TO, STATES, TERMINAL, add_request, event_count, state_of


def _detail(to_state: str) -> dict | None:
    return {"reason": "identity not verified"} if to_state in {"denied", "canceled"} else None


def test_state_names_are_exactly_the_contract() -> None:
    assert list(workflow.STATES) == STATES
    assert set(workflow.TERMINAL) == TERMINAL
    assert {s: set(workflow.ALLOWED[s]) for s in STATES} == EXPECTED


@pytest.mark.parametrize(("from_state", "to_state"), list(itertools.product(STATES, STATES)))
def test_every_transition(shared_store: Store, tmp_path: Path, from_state: str,
                          to_state: str) -> None:
    rid = add_request(shared_store, tmp_path, from_state)
    before_events = event_count(shared_store)
    before_mine = event_count(shared_store, rid)
    if to_state in EXPECTED[from_state]:
        with shared_store.session() as s:
            ev = workflow.transition(s, rid, to_state, actor="alice", detail=_detail(to_state))
        assert state_of(shared_store, rid) == to_state
        assert event_count(shared_store) == before_events + 1
        with shared_store.session() as s:
            last = s.exec(select(Event).order_by(Event.id.desc())).first()
        assert last is not None and last.id == ev.id
        assert (last.request_id, last.actor, last.from_state, last.to_state) == (
            rid, "alice", from_state, to_state)
    else:
        with pytest.raises(workflow.IllegalTransition) as info, shared_store.session() as s:
            workflow.transition(s, rid, to_state, actor="alice", detail=_detail(to_state))
        message = str(info.value)
        assert rid in message and from_state in message and to_state in message
        if from_state in TERMINAL:
            assert "final" in message
        assert state_of(shared_store, rid) == from_state
        assert event_count(shared_store) == before_events
        assert event_count(shared_store, rid) == before_mine


def test_illegal_transition_caught_by_caller_still_changes_nothing(store: Store,
                                                                   tmp_path: Path) -> None:
    """Even if the caller swallows the error and commits, the request is untouched."""
    rid = add_request(store, tmp_path, "submitted")
    with store.session() as s, pytest.raises(workflow.IllegalTransition):
        workflow.transition(s, rid, "trained", actor="alice")
    assert state_of(store, rid) == "submitted"
    assert event_count(store, rid) == 1


def test_unknown_state_and_unknown_request(store: Store, tmp_path: Path) -> None:
    rid = add_request(store, tmp_path)
    with pytest.raises(workflow.IllegalTransition, match="unknown state 'done'"), \
            store.session() as s:
        workflow.transition(s, rid, "done", actor="alice")
    with pytest.raises(workflow.UnknownRequest, match="NOPE-1"), store.session() as s:
        workflow.transition(s, "NOPE-1", "augmented", actor="alice")
    assert state_of(store, rid) == "submitted"
    assert event_count(store) == 1


@pytest.mark.parametrize("to_state", ["denied", "canceled"])
@pytest.mark.parametrize("detail", [None, {}, {"reason": ""}, {"reason": "   \n"},
                                    {"reason": None}, {"reason": 42}, {"note": "no reason"}])
def test_deny_and_cancel_need_a_reason(store: Store, tmp_path: Path, to_state: str,
                                       detail: dict | None) -> None:
    rid = add_request(store, tmp_path, "augmented")
    with store.session() as s, pytest.raises(workflow.WorkflowError, match="reason"):
        workflow.transition(s, rid, to_state, actor="alice", detail=detail)
    assert state_of(store, rid) == "augmented"
    assert event_count(store, rid) == 2


def test_reason_is_recorded_in_the_event(store: Store, tmp_path: Path) -> None:
    rid = add_request(store, tmp_path)
    operations.deny(store, rid, actor="alice", reason="  Art. 17(3)(b) legal obligation  ")
    with store.session() as s:
        ev = s.exec(select(Event).where(Event.request_id == rid)
                    .order_by(Event.id.desc())).first()
    assert ev is not None
    assert (ev.action, ev.from_state, ev.to_state, ev.actor) == (
        "denied", "submitted", "denied", "alice")
    assert ev.detail == {"reason": "Art. 17(3)(b) legal obligation"}


@pytest.mark.parametrize("op", [operations.deny, operations.cancel])
def test_operations_refuse_a_blank_reason(store: Store, tmp_path: Path, op) -> None:
    rid = add_request(store, tmp_path)
    with pytest.raises(workflow.WorkflowError, match="reason"):
        op(store, rid, actor="alice", reason="   ")
    assert state_of(store, rid) == "submitted"
    assert event_count(store, rid) == 1


@pytest.mark.parametrize("actor", ["", "   "])
def test_every_transition_needs_an_actor(store: Store, tmp_path: Path, actor: str) -> None:
    """A missing actor is refused before anything changes, even if the caller commits."""
    rid = add_request(store, tmp_path)
    with store.session() as s, pytest.raises(workflow.WorkflowError, match="actor"):
        workflow.transition(s, rid, "augmented", actor=actor)
    assert state_of(store, rid) == "submitted"
    assert event_count(store, rid) == 1


def test_rollback_after_transition_leaves_neither_state_nor_event(store: Store,
                                                                  tmp_path: Path) -> None:
    rid = add_request(store, tmp_path, "augmented")
    with store.session() as s:
        head_before = workflow.head_hash(s)
    with pytest.raises(RuntimeError, match="crash"), store.session() as s:
        workflow.transition(s, rid, "human_reviewed", actor="alice")
        s.flush()  # the UPDATE and the INSERT have reached the database...
        assert workflow.get_request(s, rid).state == "human_reviewed"
        raise RuntimeError("crash")  # ...and are undone together
    assert state_of(store, rid) == "augmented"
    assert event_count(store, rid) == 2
    with store.session() as s:
        assert workflow.head_hash(s) == head_before
        assert workflow.verify_chain(s).ok
    # the chain goes on from where it was: the next append links to the old head
    with store.session() as s:
        ev = workflow.transition(s, rid, "human_reviewed", actor="alice")
    assert ev.prev_hash == head_before


def test_explicit_session_rollback_undoes_both(store: Store, tmp_path: Path) -> None:
    rid = add_request(store, tmp_path, "trained")
    with store.session() as s:
        workflow.transition(s, rid, "verified", actor="auditor")
        s.rollback()
    assert state_of(store, rid) == "trained"
    assert event_count(store, rid) == 4


def test_state_and_event_commit_together(store: Store, tmp_path: Path) -> None:
    rid = add_request(store, tmp_path, "trained")
    with store.session() as s:
        ev = workflow.transition(s, rid, "failed", actor="auditor",
                                 detail={"kfr": 0.4, "threshold": 0.8})
    with store.session() as s:
        req = workflow.get_request(s, rid)
        stored = s.get(Event, ev.id)
        assert req.state == "failed"
        assert stored is not None and stored.hash == ev.hash
        assert stored.detail == {"kfr": 0.4, "threshold": 0.8}
        assert workflow.head_hash(s) == ev.hash


def test_failed_can_go_back_for_a_new_run(store: Store, tmp_path: Path) -> None:
    rid = add_request(store, tmp_path, "failed")
    for target in ["human_reviewed", "trained", "verified"]:
        with store.session() as s:
            workflow.transition(s, rid, target, actor="alice")
    assert state_of(store, rid) == "verified"
    assert event_count(store, rid) == 1 + len(PATH_TO["failed"]) + 3


def test_record_event_keeps_the_state_and_joins_the_chain(store: Store,
                                                         tmp_path: Path) -> None:
    rid = add_request(store, tmp_path, "augmented")
    with store.session() as s:
        ev = workflow.record_event(s, rid, actor="alice", action="variant_approved",
                                   detail={"variant": 7})
        global_ev = workflow.record_event(s, None, actor="system", action="purge_sweep")
    assert state_of(store, rid) == "augmented"
    assert (ev.from_state, ev.to_state) == ("augmented", "augmented")
    assert (global_ev.request_id, global_ev.from_state) == (None, None)
    assert global_ev.prev_hash == ev.hash
    with store.session() as s:
        check = workflow.verify_chain(s)
    assert check.ok and check.events == 4


def test_record_event_for_an_unknown_request_writes_nothing(store: Store) -> None:
    with pytest.raises(workflow.UnknownRequest), store.session() as s:
        workflow.record_event(s, "GHOST-1", actor="alice", action="note")
    assert event_count(store) == 0


def test_event_details_are_hashed_as_the_database_returns_them(store: Store,
                                                               tmp_path: Path) -> None:
    """Tuples, nested dicts and unicode survive the JSON round trip without breaking the
    hash: the chain verifies after reloading from the database."""
    rid = add_request(store, tmp_path)
    with store.session() as s:
        workflow.record_event(s, rid, actor="ålice ✓", action="note",
                              detail={"z": (1, 2), "a": {"b": ["ü", None, 1.5]}, "e": "𝄞"})
    with store.session() as s:
        assert workflow.verify_chain(s).ok


def test_detail_that_is_not_json_changes_nothing(store: Store, tmp_path: Path) -> None:
    rid = add_request(store, tmp_path)
    with store.session() as s, pytest.raises(TypeError):
        workflow.transition(s, rid, "augmented", actor="alice", detail={"x": object()})
    assert state_of(store, rid) == "submitted"
    assert event_count(store, rid) == 1
