"""Fixtures for the foundation tests: a private RELEARN_HOME and migrated temp stores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from relearn_tui.store import Store


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh data directory: nothing touches the user's real one."""
    h = tmp_path / "relearn-home"
    monkeypatch.setenv("RELEARN_HOME", str(h))
    monkeypatch.setenv("RELEARN_OPERATOR", "tester")
    return h


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'store.db'}")
    yield s
    s.close()


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """One store per module, for tests that create many requests (unique ids each)."""
    s = Store(f"sqlite:///{tmp_path_factory.mktemp('shared') / 'store.db'}")
    yield s
    s.close()
