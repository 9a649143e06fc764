"""Property test of the lifecycle: random sequences of transitions (legal, illegal, rolled
back, without a reason, decisions without a state change) against a model of the contract.

Invariants after every step: the state is one of the eight and equals the model's; a terminal
state never changes; the events of a request number its import plus its successful
transitions and decisions; the chain verifies."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func
from sqlmodel import select

from relearn_tui import workflow
from relearn_tui.importer import import_paths
from relearn_tui.store import Event, Request, Store

from .support import (
    EXPECTED,
    SECRET,
    STATES,
    TERMINAL,
    event_count,
    fresh_id,
    request_obj,
    write_jsonl,
)

REQUESTS = 3
MODES = ["commit", "commit", "commit", "rollback", "no_reason", "decision", "caught",
         "caught_no_actor"]
step = st.tuples(st.integers(0, REQUESTS - 1), st.sampled_from([*STATES, "archived"]),
                 st.sampled_from(MODES))


class Boom(Exception):
    pass


def _observe(store: Store, ids: list[str]) -> tuple[dict[str, str], dict[str, int]]:
    """The stored state and the number of events of each request, in one read."""
    with store.engine.connect() as conn:
        states = dict(conn.execute(select(Request.id, Request.state)
                                   .where(Request.id.in_(ids))).all())
        counts = dict(conn.execute(select(Event.request_id, func.count(Event.id))
                                   .where(Event.request_id.in_(ids))
                                   .group_by(Event.request_id)).all())
    return states, counts


@pytest.fixture(scope="module")
def lifecycle_store(tmp_path_factory: pytest.TempPathFactory):
    s = Store(f"sqlite:///{tmp_path_factory.mktemp('lifecycle') / 'l.db'}")
    yield s
    s.close()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(step, min_size=1, max_size=25))
def test_random_transition_sequences_keep_the_invariants(
    lifecycle_store: Store, tmp_path_factory: pytest.TempPathFactory,
    steps: list[tuple[int, str, str]],
) -> None:
    store = lifecycle_store
    ids = [fresh_id("SM") for _ in range(REQUESTS)]
    path: Path = tmp_path_factory.getbasetemp() / f"{ids[0]}.jsonl"
    import_paths(store, [write_jsonl(path, [request_obj(i) for i in ids])], secret=SECRET,
                 actor="importer")
    model = dict.fromkeys(ids, "submitted")
    events = dict.fromkeys(ids, 1)  # the import is the first event of each
    total_before = event_count(store)

    for index, target, mode in steps:
        rid = ids[index]
        current = model[rid]
        legal = target in EXPECTED.get(current, set())
        reason = {"reason": "operator decision"}
        if mode == "decision":
            with store.session() as s:
                workflow.record_event(s, rid, actor="alice", action="note",
                                      detail={"about": target})
            events[rid] += 1
        elif mode == "rollback":
            with pytest.raises((Boom, workflow.WorkflowError)), store.session() as s:
                workflow.transition(s, rid, target, actor="alice", detail=reason)
                raise Boom()
        elif mode in ("caught", "caught_no_actor"):
            # the caller swallows the error and commits whatever is left in the session
            actor = "alice" if mode == "caught" else " "
            with store.session() as s:
                try:
                    workflow.transition(s, rid, target, actor=actor, detail=reason)
                except workflow.WorkflowError:
                    assert not legal or mode == "caught_no_actor"
                else:
                    assert legal and mode == "caught"
                    model[rid], events[rid] = target, events[rid] + 1
        elif mode == "no_reason" and target in workflow.NEEDS_REASON:
            with pytest.raises(workflow.WorkflowError), store.session() as s:
                workflow.transition(s, rid, target, actor="alice")
        elif legal:
            with store.session() as s:
                ev = workflow.transition(s, rid, target, actor="alice", detail=reason)
            assert (ev.from_state, ev.to_state) == (current, target)
            model[rid], events[rid] = target, events[rid] + 1
        else:
            with pytest.raises(workflow.IllegalTransition), store.session() as s:
                workflow.transition(s, rid, target, actor="alice", detail=reason)

        stored, counted = _observe(store, ids)
        assert set(stored.values()) <= set(STATES)
        assert stored == model
        if current in TERMINAL:
            assert stored[rid] == current
        assert counted == events

    assert event_count(store) == total_before + sum(events.values()) - REQUESTS
    with store.session() as s:
        check = workflow.verify_chain(s)
    assert check.ok, check.describe()
