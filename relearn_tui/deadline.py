"""GDPR Art. 12(3) deadlines: one calendar month from receipt, extendable by two more."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime

MAX_EXTENSION_MONTHS = 2


def add_months(day: datetime, months: int) -> datetime:
    """Same day ``months`` later; the month's last day when that day does not exist
    (31 January + 1 month = 28 or 29 February)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    last = calendar.monthrange(year, month)[1]
    return day.replace(year=year, month=month, day=min(day.day, last))


def deadline(received_at: datetime, extension_months: int = 0) -> datetime:
    if not 0 <= extension_months <= MAX_EXTENSION_MONTHS:
        raise ValueError(
            f"an extension is 0 to {MAX_EXTENSION_MONTHS} months, not {extension_months}"
        )
    return add_months(received_at, 1 + extension_months)


def days_left(received_at: datetime, extension_months: int = 0, today: date | None = None) -> int:
    """Whole days until the deadline; negative when overdue."""
    today = today or datetime.now(UTC).date()
    return (deadline(received_at, extension_months).date() - today).days
