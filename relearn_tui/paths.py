"""Where relearn-tui keeps its data: ``RELEARN_HOME`` or the user's data directory."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from platformdirs import user_data_dir


def data_home() -> Path:
    """The data directory (database, secret, models, runs, reports), created on first use."""
    home = Path(os.environ.get("RELEARN_HOME") or user_data_dir("relearn-tui", appauthor=False))
    home.mkdir(parents=True, exist_ok=True)
    return home


def default_db_url(home: Path | None = None) -> str:
    return f"sqlite:///{(home or data_home()) / 'relearn.db'}"


def deployment_secret(home: Path | None = None) -> bytes:
    """The HMAC key behind subject pseudonyms and fact hashes, generated on first start.

    It stays in the data directory (mode 0600) and never enters the database or a report, so a
    leaked report cannot be reversed by guessing names.
    """
    path = (home or data_home()) / "secret.key"
    if not path.exists():
        key = secrets.token_hex(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, key.encode())
        finally:
            os.close(fd)
    return bytes.fromhex(path.read_text().strip())
