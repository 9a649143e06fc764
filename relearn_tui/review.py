"""The operator's review of generated variants: approve, reject, edit, bulk-approve.

Each decision is an event with the operator's name. When every fact of a request has at
least one approved training variant and a private value (or a recorded reason why it has none:
see relearn_tui.values), the request moves to ``human_reviewed``.
Held-out variants (probes) are not reviewed: training never sees them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session, select

from engine.pii import verify_sanitised
from engine.types import Fact as EngineFact
from engine.types import PrivateValue
from relearn_tui import workflow
from relearn_tui.store import Store
from relearn_tui.store.models import Event, Fact, Variant

PENDING, APPROVED, REJECTED, PROBE = "pending", "approved", "rejected", "probe"


class ReviewError(workflow.WorkflowError):
    pass


@dataclass(frozen=True)
class FactProgress:
    fact_id: int
    position: int
    category: str | None
    approved: int
    rejected: int
    pending: int
    flagged_pending: int


def engine_fact(fact: Fact, subject_name: str) -> EngineFact:
    values = tuple(PrivateValue(v["category"], v["value"]) for v in fact.private_values or [])
    return EngineFact(str(fact.id), subject_name, fact.question or "", fact.answer or "", values)


def _variant(session: Session, variant_id: int) -> Variant:
    v = session.get(Variant, variant_id)
    if v is None:
        raise ReviewError(f"no variant {variant_id}")
    if v.status == PROBE:
        raise ReviewError(f"variant {variant_id} is a held-out probe: it is not trained on, "
                          "so it is not reviewed")
    req = workflow.get_request(session, v.request_id)
    if req.state not in workflow.REVIEWABLE:
        raise ReviewError(f"request {v.request_id} is {req.state}: its variants are not open "
                          "for review")
    return v


def _decide(session: Session, v: Variant, status: str, actor: str, **detail) -> None:
    v.status, v.reviewed_by, v.reviewed_at = status, actor, datetime.now(UTC)
    session.add(v)
    workflow.record_event(session, v.request_id, actor=actor, action=f"variant_{status}",
                          detail={"variant": v.id, "kind": v.kind, **detail})


def progress(session: Session, request_id: str) -> list[FactProgress]:
    facts = session.exec(
        select(Fact).where(Fact.request_id == request_id).order_by(Fact.position)
    ).all()
    out = []
    for f in facts:
        vs = session.exec(select(Variant).where(Variant.fact_id == f.id)).all()
        count = {s: sum(1 for v in vs if v.status == s) for s in (APPROVED, REJECTED, PENDING)}
        flagged = sum(1 for v in vs if v.status == PENDING and not v.verified_ok)
        out.append(FactProgress(f.id or 0, f.position, f.category, count[APPROVED],
                                count[REJECTED], count[PENDING], flagged))
    return out


NO_VALUE_ACTION = "no_value_recorded"


def recorded_no_value(session: Session, request_id: str) -> set[int]:
    """Fact numbers (1-based) whose reviewer recorded why they hold no private value."""
    details = session.exec(select(Event.detail).where(Event.request_id == request_id,
                                                      Event.action == NO_VALUE_ACTION)).all()
    return {int(d["fact"]) for d in details if d and "fact" in d}


def facts_without_values(session: Session, request_id: str) -> list[int]:
    """Fact numbers (1-based) that hold no private value and have no recorded reason: the
    leak probes would have nothing to look for, so they keep the request from
    ``human_reviewed`` (relearn_tui.values lets the reviewer mark one or record why)."""
    excused = recorded_no_value(session, request_id)
    facts = session.exec(select(Fact).where(Fact.request_id == request_id)
                         .order_by(Fact.position)).all()
    return [f.position + 1 for f in facts
            if f.private_values is not None and not f.private_values
            and f.position + 1 not in excused]


def review_holds(session: Session, request_id: str,
                 facts: list[FactProgress] | None = None) -> bool:
    """Every fact has an approved training variant and a private value (or a recorded reason
    why it has none). ``facts``: the request's :func:`progress`, when the caller has it."""
    facts = progress(session, request_id) if facts is None else facts
    return (bool(facts) and all(f.approved > 0 for f in facts)
            and not facts_without_values(session, request_id))


def complete_if_ready(session: Session, request_id: str, actor: str) -> bool:
    """Move an ``augmented`` request to ``human_reviewed`` once its review holds."""
    req = workflow.get_request(session, request_id)
    if req.state != workflow.AUGMENTED:
        return False
    facts = progress(session, request_id)
    if review_holds(session, request_id, facts):
        workflow.transition(session, request_id, workflow.HUMAN_REVIEWED, actor=actor,
                            detail={"approved": sum(f.approved for f in facts),
                                    "rejected": sum(f.rejected for f in facts),
                                    "pending": sum(f.pending for f in facts)})
        return True
    return False


def approve(store: Store, variant_id: int, *, actor: str, override: bool = False) -> None:
    """Approve one variant. A variant flagged by verification needs ``override`` (recorded)."""
    with store.session() as s:
        v = _variant(s, variant_id)
        if not v.verified_ok and not override:
            raise ReviewError(f"variant {variant_id} is flagged "
                              f"({'; '.join(v.verification_reasons or [])}); edit it or "
                              "approve with override")
        _decide(s, v, APPROVED, actor, **({"override": True} if not v.verified_ok else {}))
        complete_if_ready(s, v.request_id, actor)


def reject(store: Store, variant_id: int, *, actor: str) -> None:
    with store.session() as s:
        _decide(s, _variant(s, variant_id), REJECTED, actor)


def edit(store: Store, variant_id: int, *, actor: str, question: str | None = None,
         answer: str | None = None) -> tuple[bool, tuple[str, ...]]:
    """Replace a variant's text and verify it again; returns (ok, reasons). The edit is an
    event (without the text: it may still hold what the reviewer is removing)."""
    with store.session() as s:
        v = _variant(s, variant_id)
        if question is not None:
            if not question.strip():
                raise ReviewError("the question cannot be empty")
            v.question = question.strip()
        if answer is not None:
            if not answer.strip():
                raise ReviewError("the answer cannot be empty")
            v.answer = answer.strip()
        fact = s.get(Fact, v.fact_id)
        req = workflow.get_request(s, v.request_id)
        check = verify_sanitised(v.answer or "", engine_fact(fact, req.subject_name or ""))
        v.verified_ok, v.verification_reasons = check.ok, list(check.reasons)
        v.edited, v.status = True, PENDING
        s.add(v)
        workflow.record_event(s, v.request_id, actor=actor, action="variant_edited",
                              detail={"variant": v.id, "kind": v.kind, "verified": check.ok})
        return check.ok, check.reasons


def approve_unflagged(store: Store, fact_id: int, *, actor: str) -> int:
    """Approve every pending, unflagged variant of one fact; returns how many."""
    with store.session() as s:
        vs = s.exec(select(Variant).where(Variant.fact_id == fact_id,
                                          Variant.status == PENDING,
                                          Variant.verified_ok == True)).all()  # noqa: E712
        if not vs:
            return 0
        _variant(s, vs[0].id)  # state check
        for v in vs:
            _decide(s, v, APPROVED, actor, bulk=True)
        complete_if_ready(s, vs[0].request_id, actor)
        return len(vs)


def policy_approve(store: Store, request_id: str, *, actor: str) -> int:
    """``--auto-approve``: approve every pending unflagged variant of a request under a
    standing policy, recorded as one policy-approval event by the named operator."""
    with store.session() as s:
        req = workflow.get_request(s, request_id)
        if req.state != workflow.AUGMENTED:
            return 0
        vs = s.exec(select(Variant).where(Variant.request_id == request_id,
                                          Variant.status == PENDING,
                                          Variant.verified_ok == True)).all()  # noqa: E712
        now = datetime.now(UTC)
        for v in vs:
            v.status, v.reviewed_by, v.reviewed_at = APPROVED, actor, now
            s.add(v)
        flagged = len(s.exec(select(Variant).where(Variant.request_id == request_id,
                                                   Variant.status == PENDING)).all())
        workflow.record_event(s, request_id, actor=actor, action="policy_approval",
                              detail={"approved": len(vs), "left_flagged": flagged,
                                      "policy": "auto-approve unflagged variants"})
        complete_if_ready(s, request_id, actor)
        return len(vs)


def pending_count(session: Session, request_ids: list[str] | None = None) -> int:
    q = select(Variant).where(Variant.status == PENDING)
    if request_ids is not None:
        q = q.where(Variant.request_id.in_(request_ids))
    return len(session.exec(q).all())


def undo(store: Store, variant_ids: list[int], *, actor: str) -> str:
    """Put decided variants back to pending (the operator's undo of a decision), one event
    each. A request that no longer has an approved variant for every fact goes back from
    human_reviewed to augmented. Returns the request's state afterwards."""
    if not variant_ids:
        raise ReviewError("nothing to undo")
    with store.session() as s:
        vs = [_variant(s, vid) for vid in variant_ids]
        request_id = vs[0].request_id
        for v in vs:
            if v.status == PENDING:
                continue
            was = v.status
            v.status, v.reviewed_by, v.reviewed_at = PENDING, None, None
            s.add(v)
            workflow.record_event(s, request_id, actor=actor, action="variant_undone",
                                  detail={"variant": v.id, "kind": v.kind, "was": was})
        s.flush()
        req = workflow.get_request(s, request_id)
        if req.state == workflow.HUMAN_REVIEWED and not review_holds(s, request_id):
            workflow.transition(s, request_id, workflow.AUGMENTED, actor=actor,
                                detail={"undone": len(vs)})
        return workflow.get_request(s, request_id).state
