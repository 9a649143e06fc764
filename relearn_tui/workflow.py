"""The request lifecycle (docs/design.md §3) and its hash-chained event log.

Every state change goes through :func:`transition`; every operator decision through
:func:`record_event`. Both append to the event log in the caller's transaction, so a state and
the event that explains it are committed together or not at all. Event details never hold
personal data: they outlive the purge.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert
from sqlmodel import Session, select

from relearn_tui.errors import OperatorError
from relearn_tui.store.db import CHAIN_KEY
from relearn_tui.store.models import ChainHead, Event, Fact, Request
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
# the states a request can be (re-)augmented from, read off the table above
AUGMENTABLE = tuple(s for s in STATES if AUGMENTED in _FORWARD.get(s, ()))
# the states whose variants the operator may still decide on: before the first complete
# review, after it (until a run trains them) and after a failed verification
REVIEWABLE = (AUGMENTED, HUMAN_REVIEWED, FAILED)

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
    *, version: int = 1, covers: dict[str, Any] | None = None,
) -> str:
    """The exact bytes an event's hash covers: sorted-key compact JSON. Version 2 adds the
    version and the request state the event leaves behind (``covers``)."""
    body: dict[str, Any] = {
        "request_id": request_id, "at": _iso(at), "actor": actor, "action": action,
        "from": from_state, "to": to_state, "detail": detail or {},
    }
    if version >= 2:
        body |= {"v": version, "covers": covers}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_hash(prev_hash: str, canonical: str, key: bytes | None = None) -> str:
    """Version 1: sha256(prev + canonical), which anyone can recompute. Version 2 (a key):
    HMAC-SHA256 with the chain key, which only a holder of the deployment secret can."""
    message = (prev_hash + canonical).encode("utf-8")
    if key is None:
        return hashlib.sha256(message).hexdigest()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


# -- the keyed chain (version 2) ---------------------------------------------------------------



def chain_key(secret: bytes) -> bytes:
    """The event chain's HMAC key, derived from the deployment secret (never stored in the
    database: whoever can only write the database cannot forge an event)."""
    return hmac.new(secret, b"relearn-tui/event-chain/v2", hashlib.sha256).digest()


def _key(session: Session) -> bytes | None:
    return session.info.get(CHAIN_KEY)


def snapshots(session: Session, request_ids: Iterable[str], key: bytes) -> dict[str, dict]:
    """What a version-2 event covers of each request, as it is in the database now: its
    state, its extension, and a keyed digest of its data (name, reference, ground, facts).
    An edit of any of them behind the log's back no longer matches the last event."""
    ids = sorted(set(request_ids))
    out: dict[str, dict] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        facts: dict[str, list[list[str | None]]] = {rid: [] for rid in chunk}
        for rid, q, a in session.exec(select(Fact.request_id, Fact.question, Fact.answer)
                                      .where(Fact.request_id.in_(chunk))
                                      .order_by(Fact.request_id, Fact.position)).all():
            facts[rid].append([q, a])
        for req in session.exec(select(Request).where(Request.id.in_(chunk))).all():
            data = json.dumps([req.subject_name, req.subject_reference, req.ground,
                               facts[req.id]], ensure_ascii=False, separators=(",", ":"))
            out[req.id] = {"state": req.state, "extension_months": req.extension_months,
                           "data": hmac.new(key, data.encode("utf-8"),
                                            hashlib.sha256).hexdigest()[:32]}
    return out


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


def _link(prev_hash: str, key: bytes | None, covered: dict[str, dict], *,
          request_id: str | None, actor: str, action: str, from_state: str | None = None,
          to_state: str | None = None, detail: dict[str, Any] | None = None) -> dict[str, Any]:
    """The next event's columns, chained to ``prev_hash``: version 2 when the session has
    the chain key (every command does), version 1 for a bare store."""
    actor = check_actor(actor)
    at = utcnow()
    detail = json.loads(json.dumps(detail or {}, sort_keys=True))  # what the DB will give back
    version, covers = 1, None
    if key is not None:
        version = 2
        now = covered.get(request_id) if request_id else None
        # the state the event leaves behind (a transition writes its event first)
        covers = {**now, "state": to_state or now["state"]} if now else None
    digest = event_hash(prev_hash, canonical_event(
        request_id, at, actor, action, from_state, to_state, detail, version=version,
        covers=covers), key)
    return {"request_id": request_id, "at": at, "actor": actor, "action": action,
            "from_state": from_state, "to_state": to_state, "detail": detail,
            "prev_hash": prev_hash, "hash": digest, "chain_version": version,
            "covers": covers}


def append_event(
    session: Session, *, request_id: str | None, actor: str, action: str,
    from_state: str | None = None, to_state: str | None = None,
    detail: dict[str, Any] | None = None,
) -> Event:
    head = _head(session)
    key = _key(session)
    covered = snapshots(session, [request_id], key) if key and request_id else {}
    ev = Event(**_link(head.hash, key, covered, request_id=request_id, actor=actor,
                       action=action, from_state=from_state, to_state=to_state, detail=detail))
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
    key = _key(session)
    covered = snapshots(session, [e["request_id"] for e in events if e.get("request_id")],
                        key) if key else {}
    rows, prev = [], head.hash
    for e in events:
        rows.append(_link(prev, key, covered, **e))
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

    keyed: int = 0

    def describe(self) -> str:
        if self.ok:
            keyed = f" ({self.keyed} keyed)" if self.keyed else ""
            return f"event log intact: {self.events} events{keyed}, head {self.head_hash}"
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


def parse_recorded_head(text: str) -> tuple[int | None, str]:
    """``N:HASH`` (as `log head` prints it) or a bare ``HASH``; a WorkflowError otherwise."""
    count, _, digest = text.strip().rpartition(":")
    if not re.fullmatch(r"[0-9a-f]{64}", digest) or (count and not count.isdigit()):
        raise WorkflowError("--head: expected N:HASH as 'relearn-tui log head' prints it "
                            "(or the 64 hex digits of a head hash)")
    return (int(count) if count else None), digest


def verify_chain(session: Session, batch: int = 5000,
                 recorded_head: str | None = None) -> ChainCheck:
    """Recompute every link; name the first event whose hash or back-link does not hold.

    Version-2 events are checked with the chain key (the session's; without it they cannot
    be), may not be followed by version-1 ones, and each request's last one must still match
    the request's state and data. ``recorded_head`` (``N:HASH`` from `log head`, kept outside
    the database) must still be in the chain: deleting the newest events and rewinding the
    head, or wiping the log, is only visible against such a record."""
    key = _key(session)
    want_count, want_hash = parse_recorded_head(recorded_head) if recorded_head else (None, "")
    seen_head = not recorded_head or want_hash == GENESIS_HASH
    prev, count, last_id, keyed = GENESIS_HASH, 0, 0, 0
    last_covers: dict[str, tuple[int, dict | None]] = {}

    def broken(event_id: int | None, problem: str) -> ChainCheck:
        return ChainCheck(False, count, prev, event_id, problem, keyed)

    while True:
        rows, unreadable = _load_events(session, last_id, batch)
        if not rows and unreadable is None:
            break
        for ev in rows:
            count += 1
            version = ev.chain_version or 1
            if ev.prev_hash != prev:
                return broken(ev.id, "its prev_hash does not match the event before it "
                                     "(an event was removed, inserted or reordered)")
            if version == 1 and keyed:
                return broken(ev.id, "an unkeyed event after keyed ones (written without the "
                                     "deployment secret: forged)")
            if version >= 2 and key is None:
                return broken(ev.id, "it is keyed, and this check has no deployment secret "
                                     "to recompute it")
            digest = event_hash(prev, canonical_event(
                ev.request_id, ev.at, ev.actor, ev.action, ev.from_state, ev.to_state,
                ev.detail, version=version, covers=ev.covers), key if version >= 2 else None)
            if digest != ev.hash:
                return broken(ev.id, "its content does not match its hash (the row was edited "
                                     "or forged)")
            if version >= 2:
                keyed += 1
                if ev.request_id:
                    last_covers[ev.request_id] = (ev.id or 0, ev.covers)
            if not seen_head and ev.hash == want_hash and want_count in (None, count):
                seen_head = True
            prev, last_id = ev.hash, ev.id or 0
        if unreadable is not None:
            count += 1
            return broken(unreadable, "its stored values cannot even be read (the row was "
                                      "edited)")
    head = session.get(ChainHead, 1)
    if head is not None and head.hash != prev:
        return broken(head.last_event_id,
                      "the chain head names an event that is missing (events were deleted)")
    if not seen_head:
        return broken(want_count, "the recorded head is not in the chain: events were "
                                  "deleted (the log was truncated or wiped) or replaced")
    # A request row without any event was added behind the log (the importer writes each
    # request and its "submitted" event in one transaction); its data explains nothing.
    silent = session.exec(select(Request.id).where(
        ~select(Event.id).where(Event.request_id == Request.id).exists())
        .order_by(Request.id).limit(1)).first()
    if silent is not None:
        return broken(None, f"request {silent} has no event in the log (added behind the "
                            "log)")
    if key is not None and last_covers:
        now = snapshots(session, last_covers, key)
        for rid, (event_id, covers) in sorted(last_covers.items(), key=lambda kv: kv[1][0]):
            if covers is not None and now.get(rid) != covers:
                return broken(event_id, f"request {rid}: its stored state or data differ from "
                                        "what its last event recorded (edited behind the log)")
    return ChainCheck(True, count, prev, keyed=keyed)


def head_record(session: Session) -> str:
    """``N:HASH``: the number of events and the newest hash, for an operator to keep outside
    the database (`log verify --head` checks the chain still contains it)."""
    head = session.get(ChainHead, 1)
    if head is None or head.hash == GENESIS_HASH:
        return f"0:{GENESIS_HASH}"
    count = session.exec(select(func.count()).select_from(Event)
                         .where(Event.id <= head.last_event_id)).one()
    return f"{count}:{head.hash}"


def head_hash(session: Session) -> str:
    head = session.get(ChainHead, 1)
    return head.hash if head else GENESIS_HASH
