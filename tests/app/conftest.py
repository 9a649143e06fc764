"""Fixtures for the application layer: a fresh data directory and deployment per test."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
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
        lines += [f'model = "{model}"', f'base_model = "{model}"',
                  # a test model need not know the facts for the pipeline to be exercised
                  "require_known_facts = false"]
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


SAMPLE_FILES = ("DSR-2026-0041.json", "DSR-2026-0042.json", "batch.jsonl")


def _received(at: str) -> datetime:
    return datetime.fromisoformat(at.replace("Z", "+00:00"))


@pytest.fixture
def requests_dir(tmp_path: Path) -> Path:
    """A copy of the sample request files (without the corpus and deployment), received
    recently: the dates move so that the latest came in a day ago, keeping their order and
    gaps. With the sample's fixed dates every deadline check would change verdict the day the
    calendar passed it."""
    out = tmp_path / "requests"
    out.mkdir()
    docs: dict[str, list[dict]] = {}
    for f in SAMPLE_FILES:
        text = (SAMPLE / f).read_text()
        docs[f] = ([json.loads(line) for line in text.splitlines() if line.strip()]
                   if f.endswith(".jsonl") else [json.loads(text)])
    latest = max(_received(d["received_at"]) for ds in docs.values() for d in ds)
    shift = datetime.now(UTC) - timedelta(days=1) - latest
    for f, ds in docs.items():
        for d in ds:
            d["received_at"] = (_received(d["received_at"]) + shift).isoformat()
        text = ("".join(json.dumps(d) + "\n" for d in ds) if f.endswith(".jsonl")
                else json.dumps(ds[0], indent=2))
        (out / f).write_text(text)
    return out


@pytest.fixture
def ctx(home: Path, tmp_path: Path) -> AppContext:
    dep = write_deployment(tmp_path / "deployment")
    return AppContext.create(operator="alice", deployment=dep)

