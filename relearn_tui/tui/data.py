"""Read-only queries the screens need, each one short session returning plain values.

Nothing here holds a session open after it returns, so a screen never keeps a database
transaction (and, on SQLite, a lock) while the operator reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlmodel import select

from engine.types import ITEM_KINDS
from relearn_tui import workflow
from relearn_tui.review import APPROVED, PENDING, PROBE, REJECTED
from relearn_tui.store import Store
from relearn_tui.store.models import AuditResult, Event, Fact, Request, Run, Variant
from relearn_tui.tui.formatting import categories
from relearn_tui.views import RequestRow, request_rows


def requests(store: Store, today: date | None = None, *, state: str | None = None,
             search: str = "", secret: bytes | None = None) -> list[RequestRow]:
    """Requests, oldest first, filtered by state and by a search over id, pseudonym, state
    and the subject's name: a part of the stored name while it exists, or (with ``secret``)
    the whole name through the pseudonym key, which also finds purged requests."""
    with store.read() as s:
        rows = request_rows(s, today=today)
        needle = search.strip().casefold()
        named = _named(s, search, secret) if needle else set()
    return [r for r in rows
            if (state is None or r.state == state)
            and (not needle or needle in r.request_id.casefold()
                 or needle in r.subject.casefold() or needle in r.state
                 or r.request_id in named)]


def _named(session, search: str, secret: bytes | None) -> set[str]:
    """Ids of the requests whose subject is called ``search``."""
    from relearn_tui.pseudonym import pseudonym

    needle = " ".join(search.casefold().split())
    out = set()
    for rid, name, reference, pseudo in session.exec(select(
            Request.id, Request.subject_name, Request.subject_reference,
            Request.subject_pseudonym)).all():
        part_of_name = bool(name) and len(needle) >= 3 and needle in " ".join(
            (name or "").casefold().split())
        whole_name = secret is not None and pseudo in {pseudonym(secret, search, reference),
                                                       pseudonym(secret, search)}
        if part_of_name or whole_name:
            out.add(rid)
    return out


@dataclass(frozen=True)
class FactView:
    fact_id: int
    position: int
    question: str | None
    answer: str | None
    values: tuple[dict[str, Any], ...]
    categories: tuple[str, ...]


@dataclass(frozen=True)
class EventView:
    event_id: int
    at: str
    actor: str
    action: str
    from_state: str | None
    to_state: str | None
    detail: dict[str, Any]


@dataclass(frozen=True)
class AuditView:
    run_id: str
    request_id: str | None
    phase: str
    figures: dict[str, Any]
    passed: bool | None
    reasons: tuple[str, ...]
    probe_records: tuple[dict[str, Any], ...]
    created_at: str


@dataclass(frozen=True)
class RequestDetail:
    request_id: str
    subject: str
    state: str
    ground: str | None
    received_at: str
    extension_months: int
    purged: bool
    facts: list[FactView]
    events: list[EventView]
    audits: list[AuditView]


def _audit_view(a: AuditResult) -> AuditView:
    return AuditView(a.run_id, a.request_id, a.phase, dict(a.figures or {}), a.passed,
                     tuple(a.reasons or ()), tuple(a.probe_records or ()),
                     f"{a.created_at:%Y-%m-%d %H:%M}")


def request_detail(store: Store, request_id: str) -> RequestDetail:
    with store.read() as s:
        req = workflow.get_request(s, request_id)
        facts = s.exec(select(Fact).where(Fact.request_id == request_id)
                       .order_by(Fact.position)).all()
        events = s.exec(select(Event).where(Event.request_id == request_id)
                        .order_by(Event.id)).all()
        audits = s.exec(select(AuditResult).where(AuditResult.request_id == request_id)
                        .order_by(AuditResult.id)).all()
        return RequestDetail(
            request_id=req.id, subject=req.subject_pseudonym, state=req.state, ground=req.ground,
            received_at=f"{req.received_at:%Y-%m-%d}", extension_months=req.extension_months,
            purged=req.purged_at is not None,
            facts=[FactView(f.id or 0, f.position, f.question, f.answer,
                            tuple(f.private_values or ()),
                            tuple(categories(f.private_values or f.value_hashes)))
                   for f in facts],
            events=[EventView(e.id or 0, f"{e.at:%Y-%m-%d %H:%M}", e.actor, e.action,
                              e.from_state, e.to_state, dict(e.detail or {}))
                    for e in events],
            audits=[_audit_view(a) for a in audits],
        )


@dataclass(frozen=True)
class VariantView:
    variant_id: int
    fact_id: int
    fact_position: int
    fact_category: str | None
    kind: str
    question: str | None
    answer: str | None
    status: str
    verified_ok: bool
    reasons: tuple[str, ...]
    edited: bool
    reviewed_by: str | None
    backend: str = ""  # "openai+offline": the template generator wrote it for a failed reply

    @property
    def fallback(self) -> bool:
        return self.backend.endswith("+offline")

    @property
    def flagged(self) -> bool:
        return not self.verified_ok

    @property
    def open(self) -> bool:
        """Still waiting for a decision."""
        return self.status == PENDING


@dataclass
class ReviewData:
    request_id: str
    subject: str
    state: str
    variants: list[VariantView] = field(default_factory=list)

    def counts(self, fact_id: int | None = None) -> dict[str, int]:
        vs = [v for v in self.variants if fact_id is None or v.fact_id == fact_id]
        return {"approved": sum(v.status == APPROVED for v in vs),
                "rejected": sum(v.status == REJECTED for v in vs),
                "pending": sum(v.status == PENDING for v in vs),
                "flagged": sum(v.status == PENDING and v.flagged for v in vs)}


def reviewable_requests(store: Store) -> list[tuple[str, str, str, int]]:
    """(request id, pseudonym, state, pending variants) of requests open for review."""
    with store.read() as s:
        reqs = s.exec(select(Request).where(Request.state.in_(workflow.REVIEWABLE))
                      .order_by(Request.received_at, Request.id)).all()
        out = []
        for r in reqs:
            pending = len(s.exec(select(Variant.id).where(Variant.request_id == r.id,
                                                          Variant.status == PENDING)).all())
            out.append((r.id, r.subject_pseudonym, r.state, pending))
        return out


def review_data(store: Store, request_id: str) -> ReviewData:
    """A request's trainable variants grouped by fact (position) and kind; probes left out."""
    with store.read() as s:
        req = workflow.get_request(s, request_id)
        facts = {f.id: f for f in s.exec(select(Fact).where(Fact.request_id == request_id)).all()}
        vs = s.exec(select(Variant).where(Variant.request_id == request_id,
                                          Variant.status != PROBE)).all()
        order = {k: i for i, k in enumerate(ITEM_KINDS)}
        views = [VariantView(
            v.id or 0, v.fact_id, facts[v.fact_id].position, facts[v.fact_id].category, v.kind,
            v.question, v.answer, v.status, v.verified_ok, tuple(v.verification_reasons or ()),
            v.edited, v.reviewed_by, v.backend) for v in vs]
        views.sort(key=lambda v: (v.fact_position, order.get(v.kind, 99), v.variant_id))
        return ReviewData(req.id, req.subject_pseudonym, req.state, views)


@dataclass(frozen=True)
class RunView:
    run_id: str
    method: str
    state: str
    request_ids: tuple[str, ...]
    operator: str | None
    created_at: str
    finished_at: str | None
    error: str | None
    config: dict[str, Any]
    record: dict[str, Any]


def runs(store: Store) -> list[RunView]:
    """Every run, newest first."""
    with store.read() as s:
        rows = s.exec(select(Run).order_by(Run.created_at.desc(), Run.id.desc())).all()
        return [RunView(r.id, r.method, r.state, tuple(r.request_ids or ()), r.operator,
                        f"{r.created_at:%Y-%m-%d %H:%M}",
                        f"{r.finished_at:%Y-%m-%d %H:%M}" if r.finished_at else None,
                        r.error, dict(r.config or {}), dict(r.record or {})) for r in rows]


def audits_of_run(store: Store, run_id: str) -> list[AuditView]:
    with store.read() as s:
        rows = s.exec(select(AuditResult).where(AuditResult.run_id == run_id)
                      .order_by(AuditResult.id)).all()
        return [_audit_view(a) for a in rows]


def requests_in(store: Store, states: tuple[str, ...]) -> list[tuple[str, str, int]]:
    """(request id, pseudonym, facts) of requests in the given states, oldest first."""
    with store.read() as s:
        reqs = s.exec(select(Request).where(Request.state.in_(states))
                      .order_by(Request.received_at, Request.id)).all()
        out = []
        for r in reqs:
            n = len(s.exec(select(Fact.id).where(Fact.request_id == r.id)).all())
            out.append((r.id, r.subject_pseudonym, n))
        return out


def change_marker(store: Store) -> tuple[Any, ...]:
    """Something that changes whenever any process stores something the screens show: the
    last event (every decision and state change is one) and every run's state."""
    from sqlalchemy import func

    with store.read() as s:
        last_event = s.exec(select(func.max(Event.id))).one()
        run_states = tuple(s.exec(select(Run.id, Run.state).order_by(Run.id)).all())
    return last_event, run_states
