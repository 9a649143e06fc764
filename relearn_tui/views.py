"""Read-only summaries of stored requests, shared by the headless output and the TUI.

They hold pseudonyms, never names, so they can be printed, logged and snapshotted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date

from sqlalchemy import func
from sqlmodel import Session, select

from relearn_tui.deadline import days_left, deadline
from relearn_tui.store.models import Fact, Request


@dataclass(frozen=True)
class RequestRow:
    request_id: str
    subject: str
    state: str
    facts: int
    received_at: str
    deadline: str
    days_left: int
    extension_months: int

    def to_dict(self) -> dict:
        return asdict(self)


def request_rows(session: Session, ids: list[str] | None = None,
                 today: date | None = None) -> list[RequestRow]:
    counts = dict(session.exec(
        select(Fact.request_id, func.count(Fact.id)).group_by(Fact.request_id)
    ).all())
    query = select(Request).order_by(Request.received_at, Request.id)
    if ids is not None:
        query = query.where(Request.id.in_(ids))
    rows = []
    for r in session.exec(query).all():
        rows.append(RequestRow(
            request_id=r.id, subject=r.subject_pseudonym, state=r.state,
            facts=counts.get(r.id, 0), received_at=r.received_at.date().isoformat(),
            deadline=deadline(r.received_at, r.extension_months).date().isoformat(),
            days_left=days_left(r.received_at, r.extension_months, today),
            extension_months=r.extension_months,
        ))
    return rows
