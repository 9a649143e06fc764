"""Where relearn-tui keeps its data: ``RELEARN_HOME`` or the user's data directory."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from pathlib import Path

from platformdirs import user_data_dir

from relearn_tui.errors import OperatorError
from relearn_tui.text import printable


class SecretError(OperatorError, ValueError):
    """The deployment secret file is unreadable or damaged."""


class HomeError(OperatorError):
    """The data directory cannot be used (a file is in the way, no permission, ...)."""


def data_home() -> Path:
    """The data directory (database, secret, models, runs, reports), created on first use."""
    home = Path(os.environ.get("RELEARN_HOME") or user_data_dir("relearn-tui", appauthor=False))
    shown = f"data folder {printable(str(home))} (RELEARN_HOME)"
    try:
        # it holds personal data (the database) and the secret: only its owner may look inside
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
    except FileExistsError:
        raise HomeError(f"{shown}: a file is in the way, not a folder") from None
    except OSError as exc:
        raise HomeError(f"{shown}: cannot create it: {exc.strerror}") from None
    if not home.is_dir():
        raise HomeError(f"{shown}: not a folder")
    return home


def default_db_url(home: Path | None = None) -> str:
    return f"sqlite:///{(home or data_home()) / 'relearn.db'}"


def deployment_secret(home: Path | None = None) -> bytes:
    """The HMAC key behind subject pseudonyms and fact hashes, generated on first start.

    It stays in the data directory (mode 0600) and never enters the database or a report, so a
    leaked report cannot be reversed by guessing names.
    """
    path = (home or data_home()) / "secret.key"
    try:
        if not path.exists():
            _create_secret(path)
        return _read_secret(path)
    except OSError as exc:
        raise SecretError(f"{printable(str(path))}: cannot read or create the deployment "
                          f"secret: {exc.strerror}") from None


def _create_secret(path: Path) -> None:
    # Written whole into a private temporary file, then linked into place: a second process
    # starting at the same moment either creates it or finds it complete, never half-written,
    # and never replaces a key that the other one may already be using.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".secret-", suffix=".tmp")  # mode 0600
    try:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
            f.flush()
            os.fsync(f.fileno())
        with contextlib.suppress(FileExistsError):  # another start won the race: use its key
            os.link(tmp, path)
    finally:
        os.unlink(tmp)


def _read_secret(path: Path) -> bytes:
    text = path.read_text(encoding="ascii", errors="replace").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < 16:
        raise SecretError(f"{path}: the deployment secret is damaged (expected 64 hex digits); "
                         "restore it from a backup: every pseudonym and fact hash depends on it")
    return key
