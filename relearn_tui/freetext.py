"""Free text that is kept for good (a reason in the event log, a legal ground) must not carry
the person it is about: the event log outlives the purge of the request's personal data.

:func:`request_private_values` lists what is private about one request; :func:`check_kept_text`
refuses a text that holds any of it, or anything that looks like personal data, or a control
character, with a message that names the field and never the value.
"""

from __future__ import annotations

import re

from sqlmodel import Session, select

from engine.pii import contains_value, regex_entities
from relearn_tui.store.models import Fact, Request
from relearn_tui.text import unsafe_char

MAX_KEPT_TEXT = 500
# the formats that are personal data wherever they appear (a date or an id like DSR-2026-0041
# may well belong in a reason)
_PERSONAL_FORMATS = frozenset({"EMAIL_ADDRESS", "PHONE_NUMBER", "STREET_ADDRESS"})


def personal_formats(text: str) -> list[str]:
    """The e-mail addresses, phone numbers and street addresses in ``text``."""
    return [e.text for e in regex_entities(text) if e.type in _PERSONAL_FORMATS]


def request_private_values(session: Session, request_id: str) -> list[str]:
    """The subject's name and reference, every private value of its facts (once extracted),
    and the e-mail addresses, phone numbers and the like in its answers (before that)."""
    values: list[str] = []
    req = session.get(Request, request_id)
    if req is not None:
        values += [v for v in (req.subject_name, req.subject_reference) if v]
    for fact in session.exec(select(Fact).where(Fact.request_id == request_id)).all():
        values += [v["value"] for v in fact.private_values or [] if v.get("value")]
        values += personal_formats(fact.answer or "")
    return values


def name_parts(name: str | None) -> list[str]:
    """The words of a name long enough to identify in a sentence ("Harlow asked to...")."""
    return [w for w in re.findall(r"\w+", name or "") if len(w) >= 3]


def problem(text: str, private: list[str]) -> str | None:
    """Why ``text`` may not be kept, or None."""
    bad = unsafe_char(text)
    if bad:
        return f"holds a control or invisible character ({bad})"
    if len(text) > MAX_KEPT_TEXT:
        return f"is {len(text)} characters (limit {MAX_KEPT_TEXT})"
    if any(contains_value(text, v) for v in private):
        return ("names the data subject or one of the request's private values; it is kept "
                "for good in the event log, so write it without personal data")
    if personal_formats(text):
        return ("holds what looks like personal data (an e-mail address, phone number, "
                "address or account id); it is kept for good, so write it without")
    return None


def check_kept_text(session: Session, request_id: str, text: str, what: str) -> str:
    """``text`` stripped, or a :class:`WorkflowError` naming ``what`` (e.g. ``--reason``)."""
    from relearn_tui.workflow import WorkflowError

    text = text.strip()
    if not text:
        raise WorkflowError(f"request {request_id}: {what} is empty")
    req = session.get(Request, request_id)
    private = request_private_values(session, request_id)
    private += name_parts(req.subject_name if req else None)
    why = problem(text, private)
    if why:
        raise WorkflowError(f"request {request_id}: {what} {why}")
    return text
