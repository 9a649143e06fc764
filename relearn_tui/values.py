"""The reviewer's corrections of a fact's private values (issue #21, point 2).

Detection finds most values, not all: a value it misses is neither kept out of the training
variants nor looked for by the leak probes, so the fact would pass as forgotten unchecked. The
reviewer can therefore mark a value (protected and audited like a detected one), remove a
detection that is wrong (with a reason), or record why a fact has no private value at all. A
fact with no value and no such record keeps its request from reaching ``human_reviewed``.

Events record the fact's number and the category, never the value.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from sqlmodel import Session, select

from engine.augment.verify import verify_item
from engine.pii import VALUE_CATEGORIES as CATEGORIES
from engine.pii import contains_value
from engine.types import PrivateValue
from relearn_tui import workflow
from relearn_tui.freetext import check_kept_text
from relearn_tui.pseudonym import value_hash
from relearn_tui.review import (
    APPROVED,
    NO_VALUE_ACTION,
    PENDING,
    PROBE,
    ReviewError,
    complete_if_ready,
    engine_fact,
    recorded_no_value,
    review_holds,
)
from relearn_tui.store import Store
from relearn_tui.store.models import Fact, Variant
from relearn_tui.text import unsafe_char

MAX_VALUE = 200


@dataclass(frozen=True)
class MarkResult:
    flagged: int  # variants whose text holds the marked value, now flagged for review
    revoked: int  # of them, approved ones sent back to pending


def _fact(session: Session, request_id: str, number: int) -> Fact:
    """Fact ``number`` (1-based, as the screens and reports number them) of a request open for
    review."""
    req = workflow.get_request(session, request_id, for_update=True)
    if req.state not in workflow.REVIEWABLE:
        raise ReviewError(f"request {request_id} is {req.state}: its facts are not open for "
                          "review")
    fact = session.exec(select(Fact).where(Fact.request_id == request_id,
                                           Fact.position == number - 1)).first()
    if fact is None:
        count = len(session.exec(select(Fact.id).where(Fact.request_id == request_id)).all())
        raise ReviewError(f"request {request_id}: no fact {number} (it has {count})")
    if fact.private_values is None:
        raise ReviewError(f"request {request_id}: fact {number}'s values are found when it is "
                          "augmented; augment it first")
    return fact


def _settle(session: Session, request_id: str, actor: str) -> None:
    """After the values changed: a reviewed request whose review no longer holds goes back to
    ``augmented``; one that now holds moves on."""
    req = workflow.get_request(session, request_id)
    if req.state == workflow.HUMAN_REVIEWED and not review_holds(session, request_id):
        workflow.transition(session, request_id, workflow.AUGMENTED, actor=actor,
                            action="review_reopened", detail={"cause": "values changed"})
    else:
        complete_if_ready(session, request_id, actor)


def mark_value(store: Store, secret: bytes, request_id: str, number: int, value: str,
               category: str, *, actor: str) -> MarkResult:
    """Mark ``value`` (a piece of fact ``number``'s answer) as private. Variants whose answer
    (or completion prompt) holds it are flagged; approved ones go back to pending."""
    value = value.strip()
    if category not in CATEGORIES:
        raise ReviewError(f"--category: {category!r} is not one of {', '.join(CATEGORIES)}")
    if not value:
        raise ReviewError("the value is empty")
    if len(value) > MAX_VALUE or unsafe_char(value):
        raise ReviewError(f"the value is over {MAX_VALUE} characters or holds a control "
                          "character")
    with store.session() as s:
        fact = _fact(s, request_id, number)
        if not contains_value(fact.answer or "", value):
            raise ReviewError(f"request {request_id}: fact {number}'s answer does not contain "
                              "the value given (mark a piece of the answer, as it is written)")
        if any(contains_value(v["value"], value) and contains_value(value, v["value"])
               for v in fact.private_values or []):
            raise ReviewError(f"request {request_id}: fact {number} already holds that value")
        fact.private_values = [*(fact.private_values or []),
                               {"category": category, "value": value, "marked": True}]
        fact.value_hashes = [*(fact.value_hashes or []),
                             {"category": category,
                              "hash": value_hash(secret, request_id, value)}]
        if fact.category in (None, "other"):
            fact.category = category
        s.add(fact)
        req = workflow.get_request(s, request_id)
        only_new = dataclasses.replace(engine_fact(fact, req.subject_name or ""),
                                       private_values=(PrivateValue(category, value),))
        flagged = revoked = 0
        for v in s.exec(select(Variant).where(Variant.fact_id == fact.id,
                                              Variant.status != PROBE)).all():
            check = verify_item(v.kind, v.question or "", v.answer or "", only_new,
                                use_presidio=False)
            if check.ok:
                continue
            flagged += 1
            revoked += v.status == APPROVED
            reasons = [r for r in check.reasons if r not in (v.verification_reasons or [])]
            v.verified_ok = False
            v.verification_reasons = [*(v.verification_reasons or []), *reasons]
            v.status = PENDING if v.status == APPROVED else v.status
            s.add(v)
        workflow.record_event(s, request_id, actor=actor, action="value_marked",
                              detail={"fact": number, "category": category,
                                      "variants_flagged": flagged,
                                      "approvals_revoked": revoked})
        _settle(s, request_id, actor)
        return MarkResult(flagged, revoked)


def unmark_value(store: Store, request_id: str, number: int, index: int, *, actor: str,
                 reason: str) -> str:
    """Remove value ``index`` (1-based, as `fact show` lists them) of fact ``number``: a
    detection the reviewer found wrong. It is no longer kept out of variants nor probed for,
    so the reason is required and kept in the log. Returns the value's category."""
    with store.session() as s:
        fact = _fact(s, request_id, number)
        reason = check_kept_text(s, request_id, reason, "the reason")
        values = list(fact.private_values or [])
        if not 1 <= index <= len(values):
            raise ReviewError(f"request {request_id}: fact {number} has {len(values)} "
                              f"value(s), not a value {index}")
        gone = values.pop(index - 1)
        hashes = list(fact.value_hashes or [])
        if index - 1 < len(hashes):
            hashes.pop(index - 1)
        fact.private_values, fact.value_hashes = values, hashes
        if not values:
            fact.category = "other"
        s.add(fact)
        workflow.record_event(s, request_id, actor=actor, action="value_removed",
                              detail={"fact": number, "category": gone["category"],
                                      "reason": reason})
        _settle(s, request_id, actor)
        return gone["category"]


def record_no_value(store: Store, request_id: str, number: int, *, actor: str,
                    reason: str) -> None:
    """Record why fact ``number`` holds no private value, so its request can be reviewed."""
    with store.session() as s:
        fact = _fact(s, request_id, number)
        if fact.private_values:
            raise ReviewError(f"request {request_id}: fact {number} holds "
                              f"{len(fact.private_values)} private value(s); remove them first "
                              "if they are wrong")
        reason = check_kept_text(s, request_id, reason, "the reason")
        workflow.record_event(s, request_id, actor=actor, action=NO_VALUE_ACTION,
                              detail={"fact": number, "reason": reason})
        _settle(s, request_id, actor)


@dataclass(frozen=True)
class FactValues:
    number: int
    values: tuple[tuple[str, str, bool], ...]  # (category, value, marked by a reviewer)
    no_value_recorded: bool


def fact_values(store: Store, request_id: str) -> list[FactValues]:
    """Each fact's private values (private: for the reviewer's eyes) and whether a reason
    was recorded for a fact that has none."""
    with store.read() as s:
        workflow.get_request(s, request_id)
        excused = recorded_no_value(s, request_id)
        facts = s.exec(select(Fact).where(Fact.request_id == request_id)
                       .order_by(Fact.position)).all()
        return [FactValues(f.position + 1,
                           tuple((v["category"], v["value"], bool(v.get("marked")))
                                 for v in f.private_values or []),
                           f.position + 1 in excused) for f in facts]
