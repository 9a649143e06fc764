"""The one root of the errors written for the operator, and what to do with every other one.

Every expected error (a bad file, a broken workflow rule, a database that cannot be opened or
is busy, a report that cannot be written) is an :class:`OperatorError`: its message is one line
that names the file, place and field and holds no personal data, and it carries the exit code
the command line ends with. The CLI maps errors to exit codes in :func:`exit_code_for`, the TUI
recognises them with one ``isinstance(error, OperatorError)``.

Anything else is a bug: :func:`report_unexpected` writes its traceback to the log with SQL
parameters and personal data removed, and the operator sees one short line.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Iterable

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNAVAILABLE, EXIT_INTERNAL = 0, 1, 2, 3, 4
EXIT_INTERRUPTED = 130


class OperatorError(Exception):
    """An error whose message is written for the operator: one line, no personal data.

    ``exit_code``: 2, a usage or input error (nothing was changed)."""

    exit_code = EXIT_USAGE


class UnavailableError(OperatorError):
    """The database is busy or cannot be reached right now: nothing was changed, and the same
    command can simply be run again. Not an input error."""

    exit_code = EXIT_UNAVAILABLE


def _driver_error(exc: BaseException) -> OperatorError | None:
    """A database error that is about the database's availability, not about our data: the
    server went away, refused us, or a lock was held too long."""
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    if not isinstance(exc, DBAPIError):
        return None
    first = _first_line(exc.orig if exc.orig is not None else exc)
    if "database is locked" in first or "database is busy" in first:
        return UnavailableError("the database is busy: another relearn-tui process is writing; "
                                "nothing was changed, try again")
    if exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError):
        return UnavailableError(f"the database is unavailable ({scrub(first)}); "
                                "nothing was changed, try again")
    return None


def _engine_error(exc: BaseException) -> OperatorError | None:
    """An error the engine raises about the operator's inputs, not about itself: a model that
    cannot be found or loaded (or whose package is missing), training settings out of range,
    training data it cannot use. Input errors (exit 2), in one scrubbed line."""
    from engine.bundled import BundledModelError
    from engine.models import ModelError
    from engine.train.config import ConfigError
    from engine.train.data import DataError

    if isinstance(exc, ModelError | BundledModelError | ConfigError | DataError):
        return OperatorError(scrub(_first_line(exc)))
    return None


def as_operator_error(exc: BaseException) -> OperatorError | None:
    """``exc`` as an error for the operator, or None when it is a bug."""
    if isinstance(exc, OperatorError):
        return exc
    return _driver_error(exc) or _engine_error(exc)


def exit_code_for(exc: BaseException) -> int:
    """The one place errors become exit codes."""
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    known = as_operator_error(exc)
    return known.exit_code if known is not None else EXIT_INTERNAL


# -- scrubbing ---------------------------------------------------------------------------------

_QUOTED = re.compile(r"'[^'\n]{1,500}'|\"[^\"\n]{1,500}\"")
# what a driver appends to its message: the parameters, the row's values
_VALUE_LINES = re.compile(r"^\s*(\[parameters:|\[SQL parameters|DETAIL:|Failing row|Key \()",
                          re.IGNORECASE)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0].strip() if lines else type(exc).__name__


def scrub(text: str, private: Iterable[str] = ()) -> str:
    """``text`` without what may be personal data: quoted strings (where messages put values),
    e-mail addresses, phone numbers, street addresses, account ids, the given private values,
    and the lines a driver adds with the statement's parameters or the row's values."""
    from engine.pii import regex_entities

    kept = [line for line in text.splitlines() if not _VALUE_LINES.match(line)]
    text = "\n".join(kept)
    for value in sorted({v for v in private if v and v.strip()}, key=len, reverse=True):
        text = re.sub(re.escape(value), "<private>", text, flags=re.IGNORECASE)
    text = _QUOTED.sub("'<redacted>'", text)
    for entity in sorted(regex_entities(text), key=lambda e: -e.start):
        text = text[:entity.start] + "<redacted>" + text[entity.end:]
    return text


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not e for e in out):
        out.append(current)
        current = current.__cause__ or (None if current.__suppress_context__
                                         else current.__context__)
    return out[::-1]


def scrubbed_traceback(exc: BaseException, private: Iterable[str] = ()) -> str:
    """The traceback Python would print, with every exception message scrubbed. Frames show
    code, never local variables, so they hold no value."""
    private = list(private)
    parts = []
    for e in _chain(exc):
        frames = "".join(traceback.format_tb(e.__traceback__))
        name = f"{type(e).__module__}.{type(e).__qualname__}"
        parts.append(f"Traceback (most recent call last):\n{frames}{name}: "
                     f"{scrub(str(e), private)}\n")
    return "\nDuring the handling of the above, another error occurred:\n\n".join(parts)


def _log_file() -> str | None:
    """The application log's path, set up if this process has not done so yet (the error may
    have come before the database was opened); None when there is none to write to."""
    from relearn_tui.logs import LOGGER, setup_logging
    from relearn_tui.paths import data_home

    def current() -> str | None:
        return next((h.baseFilename for h in logging.getLogger(LOGGER).handlers
                     if isinstance(h, logging.FileHandler)), None)

    if current() is None:
        try:
            setup_logging(data_home())
        except Exception:  # a broken RELEARN_HOME: no log, and no traceback on stderr either
            return None
    return current()


def report_unexpected(exc: BaseException, doing: str = "", private: Iterable[str] = ()) -> str:
    """Log the scrubbed traceback of a bug; return the one line to show the operator."""
    where = _log_file()
    if where is not None:
        logging.getLogger("relearn_tui.errors").error(
            "unexpected error%s\n%s", f" in {doing}" if doing else "",
            scrubbed_traceback(exc, private))
    line = f"unexpected {type(exc).__name__}" + (f" in {doing}" if doing else "")
    return line + (f"; the details (without personal data) are in {where}" if where
                   else "; this is a bug")
