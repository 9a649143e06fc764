"""Fixtures for the application layer: a fresh data directory and deployment per test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from relearn_tui.context import AppContext

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_requests"


def write_deployment(folder: Path, *, model: Path | None = None, extra: str = "") -> Path:
    """A deployment over the sample corpus; ``model`` replaces the built subject model."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(SAMPLE / "corpus.jsonl", folder / "corpus.jsonl")
    lines = ['name = "test"', 'corpus = "corpus.jsonl"']
    if model is not None:
        # the model also judges LS's perplexity, so the tests never load the real SmolLM2
        lines += [f'model = "{model}"', f'base_model = "{model}"']
    path = folder / "deployment.toml"
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


@pytest.fixture
def make_deployment():
    return write_deployment


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    h = tmp_path / "home"
    monkeypatch.setenv("RELEARN_HOME", str(h))
    return h


@pytest.fixture
def requests_dir(tmp_path: Path) -> Path:
    """A copy of the sample request files (without the corpus and deployment)."""
    out = tmp_path / "requests"
    out.mkdir()
    for f in ("DSR-2026-0041.json", "DSR-2026-0042.json", "batch.jsonl"):
        shutil.copy(SAMPLE / f, out / f)
    return out


@pytest.fixture
def ctx(home: Path, tmp_path: Path) -> AppContext:
    dep = write_deployment(tmp_path / "deployment")
    return AppContext.create(operator="alice", deployment=dep)

