"""What every entry point needs: the data directory, the database, the secret, the operator
and the deployment."""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from relearn_tui.deployment import Deployment, load_deployment
from relearn_tui.logs import setup_logging
from relearn_tui.paths import data_home, default_db_url, deployment_secret
from relearn_tui.store import Store

LAST_DEPLOYMENT = "last_deployment"


def default_operator() -> str:
    try:
        return os.environ.get("RELEARN_OPERATOR") or getpass.getuser()
    except (KeyError, OSError):
        return "operator"


def find_deployment(home: Path, explicit: str | Path | None,
                    paths: list[str] | None = None) -> Path | None:
    """--deployment, else a deployment.toml beside the request paths, else the one used last
    in this data directory, else none (the bare base model)."""
    if explicit:
        return Path(explicit)
    for p in map(Path, paths or []):
        candidate = (p if p.is_dir() else p.parent) / "deployment.toml"
        if candidate.is_file():
            return candidate
    last = home / LAST_DEPLOYMENT
    if last.is_file():
        remembered = Path(last.read_text().strip())
        if remembered.is_file():
            return remembered
    return None


@dataclass
class AppContext:
    home: Path
    db_url: str
    operator: str
    deployment_path: Path | None = None
    overrides: dict[str, str] = field(default_factory=dict)
    # told when a write has to wait for another process's lock (the CLI prints it)
    on_wait: Callable[[str], None] | None = None

    @classmethod
    def create(cls, db: str | None = None, operator: str | None = None,
               deployment: str | Path | None = None, paths: list[str] | None = None,
               on_wait: Callable[[str], None] | None = None,
               **overrides: str | None) -> AppContext:
        from relearn_tui.workflow import check_actor

        home = data_home()
        operator = check_actor(operator if operator is not None else default_operator(),
                               "--operator")
        return cls(home, db or default_db_url(home), operator,
                   find_deployment(home, deployment, paths),
                   {k: v for k, v in overrides.items() if v}, on_wait)

    @cached_property
    def store(self) -> Store:
        setup_logging(self.home)
        from relearn_tui.workflow import chain_key

        return Store(self.db_url, on_wait=self.on_wait, chain_key=chain_key(self.secret))

    @cached_property
    def secret(self) -> bytes:
        return deployment_secret(self.home)

    @cached_property
    def deployment(self) -> Deployment:
        """The deployment, loaded (and so validated) once, with the command-line overrides."""
        return load_deployment(self.deployment_path, self.overrides)

    def remember_deployment(self) -> None:
        """Record the deployment file in use, so the next session without --deployment and
        without request paths finds it again."""
        if self.deployment.source is not None:
            (self.home / LAST_DEPLOYMENT).write_text(str(self.deployment.source))

    def use_deployment(self, path: Path) -> Deployment:
        """Switch to the deployment file ``path`` (loading it validates it: on an error the
        one in use stays) and remember it for the next session."""
        loaded = load_deployment(path, self.overrides)
        self.deployment_path = Path(path)
        self.__dict__["deployment"] = loaded  # the cached property's slot
        self.remember_deployment()
        return loaded
