"""The request lifecycle (DESIGN section 3) and its hash-chained event log.

Every state change goes through :func:`transition`; every operator decision through
:func:`record_event`. Both append to the event log in the caller's transaction, so a state and
the event that explains it are committed together or not at all. Event details never hold
personal data: they outlive the purge.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert
from sqlmodel import Session, select

from relearn_tui.errors import OperatorError
from relearn_tui.store.models import ChainHead, Event, Request
from relearn_tui.text import unsafe_char

SUBMITTED = "submitted"
AUGMENTED = "augmented"
HUMAN_REVIEWED = "human_reviewed"
TRAINED = "trained"
VERIFIED = "verified"
FAILED = "failed"
DENIED = "denied"
CANCELED = "canceled"

STATES = (SUBMITTED, AUGMENTED, HUMAN_REVIEWED, TRAINED, VERIFIED, FAILED, DENIED, CANCELED)
TERMINAL = frozenset({VERIFIED, DENIED, CANCELED})

_FORWARD: dict[str, frozenset[str]] = {
    SUBMITTED: frozenset({AUGMENTED}),
    # re-augmenting a reviewed or failed request sends it back for review
    AUGMENTED: frozenset({AUGMENTED, HUMAN_REVIEWED}),
    HUMAN_REVIEWED: frozenset({AUGMENTED, TRAINED, FAILED}),
    TRAINED: frozenset({VERIFIED, FAILED}),
    FAILED: frozenset({HUMAN_REVIEWED, AUGMENTED}),
}
ALLOWED: dict[str, frozenset[str]] = {
    state: (_FORWARD.get(state, frozenset()) | {DENIED, CANCELED}) if state not in TERMINAL
    else frozenset()
    for state in STATES
}
NEEDS_REASON = frozenset({DENIED, CANCELED})

GENESIS_HASH = "0" * 64


class WorkflowError(OperatorError):
    """A workflow rule was broken; nothing was changed."""


class IllegalTransition(WorkflowError):
    pass


class UnknownRequest(WorkflowError):
    pass


def utcnow() -> datetime:
    return datetime.now(UTC)


def _iso(at: datetime) -> str:
    if at.tzinfo is None:  # databases without time zones hand back naive UTC
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_event(
    request_id: str | None, at: datetime, actor: str, action: str,
    from_state: str | None, to_state: str | None, detail: dict[str, Any] | None,
) -> str:
    """The exact bytes an event's hash covers: sorted-key compact JSON."""
    body = {
        "request_id": request_id, "at": _iso(at), "actor": actor, "action": action,
        "from": from_state, "to": to_state, "detail": detail or {},
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_hash(prev_hash: str, canonical: str) -> str:
    return hashlib.sha256((prev_hash + canonical).encode("utf-8")).hexdigest()


def _head(session: Session) -> ChainHead:
    # FOR UPDATE serialises appends on PostgreSQL; on SQLite the IMMEDIATE transaction does.
    head = session.exec(select(ChainHead).where(ChainHead.id == 1).with_for_update()).first()
    if head is None:
        head = ChainHead(id=1, last_event_id=0, hash=GENESIS_HASH)
        session.add(head)
    return head


MAX_ACTOR = 128  # the event table's actor column


def check_actor(actor: object, what: str = "actor") -> str:
    """The operator's name as it is recorded (stripped), or a :class:`WorkflowError`: it is
    printed in the event log and the reports, so it is one line of visible text that fits its
    column."""
    if not isinstance(actor, str) or not actor.strip():
        raise WorkflowError(f"{what}: every event needs an actor (operator name or 'system')")
    actor = actor.strip()
    if len(actor) > MAX_ACTOR:
        raise WorkflowError(f"{what}: {len(actor)} characters (limit {MAX_ACTOR})")
    bad = unsafe_char(actor)
    if bad:
        raise WorkflowError(f"{what}: holds a control or invisible character ({bad})")
    return actor


def _link(prev_hash: str, *, request_id: str | None, actor: str, action: str,
          from_state: str | None = None, to_state: str | None = None,
          detail: dict[str, Any] | None = None) -> dict[str, Any]:
    """The next event's columns, chained to ``prev_hash``."""
    actor = check_actor(actor)
    at = utcnow()
    detail = json.loads(json.dumps(detail or {}, sort_keys=True))  # what the DB will give back
    digest = event_hash(
        prev_hash, canonical_event(request_id, at, actor, action, from_state, to_state, detail)
    )
    return {"request_id": request_id, "at": at, "actor": actor, "action": action,
            "from_state": from_state, "to_state": to_state, "detail": detail,
            "prev_hash": prev_hash, "hash": digest}


def append_event(
    session: Session, *, request_id: str | None, actor: str, action: str,
    from_state: str | None = None, to_state: str | None = None,
    detail: dict[str, Any] | None = None,
) -> Event:
    head = _head(session)
    ev = Event(**_link(head.hash, request_id=request_id, actor=actor, action=action,
                       from_state=from_state, to_state=to_state, detail=detail))
    session.add(ev)
    session.flush()
    head.hash, head.last_event_id = ev.hash, ev.id or 0
    session.add(head)
    return ev


def append_events(session: Session, events: list[dict[str, Any]]) -> None:
    """Append many events (each given as :func:`append_event`'s keyword arguments) in one
    bulk insert: an import of thousands of requests then holds the write lock for seconds,
    not minutes. Ids follow the insert order, which is the chain's order."""
    if not events:
        return
    head = _head(session)
    rows, prev = [], head.hash
    for e in events:
        rows.append(_link(prev, **e))
        prev = rows[-1]["hash"]
    session.execute(insert(Event), rows)
    head.hash = prev
    head.last_event_id = session.exec(select(func.max(Event.id))).one() or 0
    session.add(head)


def get_request(session: Session, request_id: str, *, for_update: bool = False) -> Request:
    """The request, or :class:`UnknownRequest`. ``for_update`` reads the row afresh and locks
    it (PostgreSQL): what a decision is based on must be the committed state of now, not a copy
    the session loaded earlier."""
    if for_update:
        req = session.exec(
            select(Request).where(Request.id == request_id).with_for_update()
            .execution_options(populate_existing=True)
        ).first()
    else:
        req = session.get(Request, request_id)
    if req is None:
        raise UnknownRequest(f"no request {request_id!r}")
    return req


def can_transition(from_state: str, to_state: str) -> bool:
    return to_state in ALLOWED.get(from_state, frozenset())


def transition(
    session: Session, request_id: str, to_state: str, *, actor: str,
    action: str | None = None, detail: dict[str, Any] | None = None,
) -> Event:
    """Move a request to ``to_state`` and log it, in the caller's transaction.

    Raises :class:`IllegalTransition` (and changes nothing) when the lifecycle forbids it.
    """
    if to_state not in STATES:
        raise IllegalTransition(f"unknown state {to_state!r}; states are {', '.join(STATES)}")
    req = get_request(session, request_id, for_update=True)
    if not can_transition(req.state, to_state):
        allowed = ", ".join(sorted(ALLOWED[req.state])) or "none: it is final"
        raise IllegalTransition(
            f"request {request_id}: cannot go from {req.state} to {to_state} (allowed: {allowed})"
        )
    reason = (detail or {}).get("reason")
    if to_state in NEEDS_REASON and not (isinstance(reason, str) and reason.strip()):
        raise WorkflowError(f"request {request_id}: {to_state} needs a reason")
    # The event first: if it cannot be written (no actor, a detail that is not JSON) the
    # request is still untouched, even for a caller that catches the error and commits.
    ev = append_event(session, request_id=request_id, actor=actor, action=action or to_state,
                      from_state=req.state, to_state=to_state, detail=detail)
    req.state = to_state
    req.updated_at = utcnow()
    session.add(req)
    return ev


def record_event(
    session: Session, request_id: str | None, *, actor: str, action: str,
    detail: dict[str, Any] | None = None,
) -> Event:
    """Log a decision that does not change the state (review, extension, purge, ...)."""
    state = get_request(session, request_id, for_update=True).state if request_id else None
    return append_event(session, request_id=request_id, actor=actor, action=action,
                        from_state=state, to_state=state, detail=detail)


@dataclass(frozen=True)
class ChainCheck:
    ok: bool
    events: int
    head_hash: str
    broken_event_id: int | None = None
    problem: str = ""

    def describe(self) -> str:
        if self.ok:
            return f"event log intact: {self.events} events, head {self.head_hash}"
        return f"event log BROKEN at event {self.broken_event_id}: {self.problem}"


def _load_events(session: Session, after_id: int, batch: int) -> tuple[list[Event], int | None]:
    """The next events after ``after_id``, and the id of the first one whose stored JSON or
    timestamp no longer decodes (an edit can leave a row the ORM cannot load), if any."""
    query = select(Event).where(Event.id > after_id).order_by(Event.id).limit(batch)
    try:
        return list(session.exec(query).all()), None
    except (ValueError, TypeError):
        pass
    ids = session.exec(
        select(Event.id).where(Event.id > after_id).order_by(Event.id).limit(batch)
    ).all()
    readable: list[Event] = []
    for event_id in ids:
        try:
            readable.append(session.exec(select(Event).where(Event.id == event_id)).one())
        except (ValueError, TypeError):
            return readable, event_id
    return readable, None


def verify_chain(session: Session, batch: int = 5000) -> ChainCheck:
    """Recompute every link; name the first event whose hash or back-link does not hold."""
    prev, count, last_id = GENESIS_HASH, 0, 0
    while True:
        rows, unreadable = _load_events(session, last_id, batch)
        if not rows and unreadable is None:
            break
        for ev in rows:
            count += 1
            if ev.prev_hash != prev:
                return ChainCheck(False, count, prev, ev.id,
                                  "its prev_hash does not match the event before it "
                                  "(an event was removed, inserted or reordered)")
            digest = event_hash(prev, canonical_event(ev.request_id, ev.at, ev.actor, ev.action,
                                                      ev.from_state, ev.to_state, ev.detail))
            if digest != ev.hash:
                return ChainCheck(False, count, prev, ev.id,
                                  "its content does not match its hash (the row was edited)")
            prev, last_id = ev.hash, ev.id or 0
        if unreadable is not None:
            return ChainCheck(False, count + 1, prev, unreadable,
                              "its stored values cannot even be read (the row was edited)")
    head = session.get(ChainHead, 1)
    if head is not None and head.hash != prev:
        return ChainCheck(False, count, prev, head.last_event_id,
                          "the chain head names an event that is missing (events were deleted)")
    return ChainCheck(True, count, prev)


def head_hash(session: Session) -> str:
    head = session.get(ChainHead, 1)
    return head.hash if head else GENESIS_HASH
