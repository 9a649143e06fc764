"""What every entry point needs: the data directory, the database, the secret, the operator."""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from relearn_tui.paths import data_home, default_db_url, deployment_secret
from relearn_tui.store import Store


def default_operator() -> str:
    try:
        return os.environ.get("RELEARN_OPERATOR") or getpass.getuser()
    except (KeyError, OSError):
        return "operator"


@dataclass
class AppContext:
    home: Path
    db_url: str
    operator: str

    @classmethod
    def create(cls, db: str | None = None, operator: str | None = None) -> AppContext:
        home = data_home()
        return cls(home, db or default_db_url(home), operator or default_operator())

    @cached_property
    def store(self) -> Store:
        return Store(self.db_url)

    @cached_property
    def secret(self) -> bytes:
        return deployment_secret(self.home)
