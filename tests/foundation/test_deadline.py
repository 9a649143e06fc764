"""GDPR Art. 12(3) deadlines: one calendar month from receipt (last day of the month when the
day does not exist), up to two more months with a recorded reason, days left (negative when
overdue)."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import select

from relearn_tui import operations, workflow
from relearn_tui.deadline import add_months, days_left, deadline
from relearn_tui.store import Event, Request, Store
from relearn_tui.views import request_rows

from .support import add_request, event_count, snapshot


def at(y: int, m: int, d: int, hh: int = 9, mm: int = 14) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=UTC)


@pytest.mark.parametrize(("received", "expected"), [
    (at(2026, 1, 31), at(2026, 2, 28)),   # no 31 February
    (at(2028, 1, 31), at(2028, 2, 29)),   # leap year
    (at(2100, 1, 31), at(2100, 2, 28)),   # 2100 is not a leap year
    (at(2000, 1, 30), at(2000, 2, 29)),   # 2000 is
    (at(2028, 2, 29), at(2028, 3, 29)),
    (at(2026, 3, 31), at(2026, 4, 30)),
    (at(2026, 11, 2), at(2026, 12, 2)),
    (at(2026, 12, 15), at(2027, 1, 15)),  # across the year
    (at(2026, 12, 31), at(2027, 1, 31)),
    (at(2026, 8, 31, 23, 59), at(2026, 9, 30, 23, 59)),
])
def test_one_calendar_month(received: datetime, expected: datetime) -> None:
    assert deadline(received) == expected


@pytest.mark.parametrize(("received", "months", "expected"), [
    (at(2026, 1, 31), 1, at(2026, 3, 31)),
    (at(2026, 1, 31), 2, at(2026, 4, 30)),
    (at(2026, 11, 30), 2, at(2027, 2, 28)),
    (at(2027, 11, 30), 2, at(2028, 2, 29)),
    (at(2026, 12, 31), 2, at(2027, 3, 31)),
])
def test_extended_deadline(received: datetime, months: int, expected: datetime) -> None:
    assert deadline(received, months) == expected


@pytest.mark.parametrize("months", [-1, 3, 12])
def test_extension_beyond_two_months_is_refused(months: int) -> None:
    with pytest.raises(ValueError, match="0 to 2 months"):
        deadline(at(2026, 1, 1), months)


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2200, 12, 31),
                    timezones=st.just(UTC)), st.integers(0, 2))
def test_deadline_properties(received: datetime, extension: int) -> None:
    due = deadline(received, extension)
    months = 1 + extension
    assert (due.year * 12 + due.month) - (received.year * 12 + received.month) == months
    last = calendar.monthrange(due.year, due.month)[1]
    assert due.day == min(received.day, last)
    assert due.time() == received.time() and due.tzinfo == received.tzinfo
    assert timedelta(days=28 * months) <= due - received <= timedelta(days=31 * months)


def test_add_months_keeps_the_time_zone() -> None:
    assert add_months(at(2026, 5, 31), 1).tzinfo is UTC


def test_days_left() -> None:
    received = at(2026, 1, 31)  # due 28 February 2026
    assert days_left(received, today=date(2026, 2, 1)) == 27
    assert days_left(received, today=date(2026, 2, 28)) == 0
    assert days_left(received, today=date(2026, 3, 3)) == -3
    assert days_left(received, 1, today=date(2026, 3, 3)) == 28  # due 31 March


# the requests here are received on 2026-11-02 (support.request_obj) and due on 2026-12-02; an
# extension is decided on this day, within the first month, whatever today's date is (CI ran
# these on 2026-12-03, when the real date made every extension a late one)
IN_TIME = date(2026, 11, 20)


def _events(store: Store, rid: str, action: str) -> list[Event]:
    with store.session() as s:
        return list(s.exec(select(Event).where(Event.request_id == rid,
                                               Event.action == action)).all())


def test_extension_is_an_event_with_its_reason(store: Store, tmp_path: Path) -> None:
    rid = add_request(store, tmp_path, "augmented")  # received 2026-11-02
    new = operations.extend_deadline(store, rid, months=1, actor="alice",
                                     reason="complex request: many systems to search",
                                     today=IN_TIME)
    assert new == "2027-01-02"
    (ev,) = _events(store, rid, "deadline_extended")
    assert ev.actor == "alice"
    assert ev.detail == {"months": 1, "total_months": 1, "deadline": "2027-01-02",
                         "reason": "complex request: many systems to search"}
    assert (ev.from_state, ev.to_state) == ("augmented", "augmented")
    assert operations.extend_deadline(store, rid, months=1, actor="alice",
                                      reason="still searching", today=IN_TIME) == "2027-02-02"
    with store.session() as s:
        req = s.get(Request, rid)
        assert req is not None and req.extension_months == 2
        assert workflow.verify_chain(s).ok


@pytest.mark.parametrize(("first", "second"), [(1, 2), (2, 1), (0, 3)])
def test_a_third_month_is_refused_and_changes_nothing(store: Store, tmp_path: Path,
                                                      first: int, second: int) -> None:
    rid = add_request(store, tmp_path)
    if first:
        operations.extend_deadline(store, rid, months=first, actor="alice", reason="busy",
                                   today=IN_TIME)
    before = snapshot(store)
    with pytest.raises(workflow.WorkflowError, match="at most 2"):
        operations.extend_deadline(store, rid, months=second, actor="alice", reason="busier",
                                   today=IN_TIME)
    assert snapshot(store) == before


@pytest.mark.parametrize("reason", ["", "   "])
def test_extension_needs_a_reason(store: Store, tmp_path: Path, reason: str) -> None:
    rid = add_request(store, tmp_path)
    with pytest.raises(workflow.WorkflowError, match="reason"):
        operations.extend_deadline(store, rid, months=1, actor="alice", reason=reason,
                                   today=IN_TIME)
    assert event_count(store, rid) == 1


@pytest.mark.parametrize("months", [0, -1])
def test_extension_of_zero_or_fewer_months_is_refused(store: Store, tmp_path: Path,
                                                      months: int) -> None:
    rid = add_request(store, tmp_path)
    with pytest.raises(workflow.WorkflowError, match="at least one month"):
        operations.extend_deadline(store, rid, months=months, actor="alice", reason="r",
                                   today=IN_TIME)
    assert event_count(store, rid) == 1


@pytest.mark.parametrize("state", ["verified", "denied", "canceled"])
def test_closed_request_cannot_be_extended(store: Store, tmp_path: Path, state: str) -> None:
    rid = add_request(store, tmp_path, state)
    before = snapshot(store)
    with pytest.raises(workflow.WorkflowError, match=state):
        operations.extend_deadline(store, rid, months=1, actor="alice", reason="r", today=IN_TIME)
    assert snapshot(store) == before


def test_request_rows_show_deadline_and_overdue_days(store: Store, tmp_path: Path) -> None:
    rid = add_request(store, tmp_path)  # received 2026-11-02, due 2026-12-02
    with store.session() as s:
        (row,) = request_rows(s, [rid], today=date(2026, 12, 12))
    assert (row.deadline, row.days_left, row.extension_months) == ("2026-12-02", -10, 0)
    assert row.subject.startswith("S-") and "Isabella" not in str(row.to_dict())
    operations.extend_deadline(store, rid, months=1, actor="alice", reason="complex", today=IN_TIME)
    with store.session() as s:
        (row,) = request_rows(s, [rid], today=date(2026, 12, 12))
    assert (row.deadline, row.days_left, row.extension_months) == ("2027-01-02", 21, 1)
