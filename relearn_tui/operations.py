"""Operator decisions on a request, each one short transaction with its event."""

from __future__ import annotations

from datetime import date

from relearn_tui import workflow
from relearn_tui.deadline import MAX_EXTENSION_MONTHS, days_left, deadline
from relearn_tui.freetext import check_kept_text
from relearn_tui.store import Store


def deny(store: Store, request_id: str, *, actor: str, reason: str) -> None:
    """Refuse a request (identity not verified, an Art. 17(3) exemption, ...)."""
    _close(store, request_id, workflow.DENIED, actor=actor, reason=reason)


def cancel(store: Store, request_id: str, *, actor: str, reason: str) -> None:
    _close(store, request_id, workflow.CANCELED, actor=actor, reason=reason)


def _close(store: Store, request_id: str, state: str, *, actor: str, reason: str) -> None:
    with store.session() as s:
        workflow.get_request(s, request_id, for_update=True)  # an unknown id first
        reason = check_kept_text(s, request_id, reason, "the reason")
        workflow.transition(s, request_id, state, actor=actor, detail={"reason": reason})


def extend_deadline(store: Store, request_id: str, *, months: int, actor: str,
                    reason: str, late: bool = False, today: date | None = None) -> str:
    """Extend by ``months`` (in all at most two beyond the first month); returns the new
    deadline as an ISO date. Once the deadline has passed an extension is refused unless
    ``late`` says the operator overrides it (GDPR Art. 12(3) wants an extension notified
    within the first month); the override is recorded in the event."""
    if not reason.strip():
        raise workflow.WorkflowError(f"request {request_id}: an extension needs a reason")
    with store.session() as s:
        req = workflow.get_request(s, request_id, for_update=True)
        reason = check_kept_text(s, request_id, reason, "the reason")
        if req.state in workflow.TERMINAL:
            raise workflow.WorkflowError(f"request {request_id} is {req.state}: nothing to extend")
        if months < 1:
            raise workflow.WorkflowError(
                f"request {request_id}: an extension is at least one month, not {months}")
        left = days_left(req.received_at, req.extension_months, today)
        if left < 0 and not late:
            raise workflow.WorkflowError(
                f"request {request_id}: the deadline passed {-left} day(s) ago; an extension "
                "is notified within the first month (GDPR Art. 12(3)); extend late only as a "
                "recorded override")
        total = req.extension_months + months
        if total > MAX_EXTENSION_MONTHS:
            raise workflow.WorkflowError(
                f"request {request_id}: already extended by {req.extension_months} month(s); "
                f"the total extension is at most {MAX_EXTENSION_MONTHS}"
            )
        req.extension_months = total
        s.add(req)
        new = deadline(req.received_at, total).date().isoformat()
        workflow.record_event(s, request_id, actor=actor, action="deadline_extended",
                              detail={"months": months, "total_months": total,
                                      "deadline": new, "reason": reason,
                                      **({"late_override": True, "days_overdue": -left}
                                         if left < 0 else {})})
    return new
