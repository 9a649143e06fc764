"""Shared fixtures: a tiny random model (unit tests) and the real SmolLM2 subject model (e2e)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_requests"
# Models built by tests are cached here between local runs; CI starts from a clean clone.
CACHE = Path(os.environ.get("RELEARN_TEST_CACHE", ROOT / ".cache" / "tests"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# The URL of a PostgreSQL server the tests may create databases on; .ci/run starts a throwaway
# one (.ci/with-postgres) and sets it. Without it the PostgreSQL tests skip, saying so.
PG_ENV = "RELEARN_TEST_PG_URL"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database (dropped afterwards) on the server of $PG_ENV."""
    admin = os.environ.get(PG_ENV)
    if not admin:
        pytest.skip(f"no PostgreSQL server: {PG_ENV} is not set (.ci/run starts one with "
                    ".ci/with-postgres; run the tests under it)")
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"relearn_test_{uuid.uuid4().hex[:12]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(admin).set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on a SQLite file and on a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'relearn.db'}"
    return request.getfixturevalue("pg_url")


def _sample_corpus():
    from engine.types import QA

    rows = [json.loads(line) for line in (SAMPLE / "corpus.jsonl").read_text().splitlines() if line]
    return [QA(r["question"], r["answer"]) for r in rows]


@pytest.fixture(scope="session")
def sample_corpus():
    return _sample_corpus()


@pytest.fixture(scope="session")
def smollm_tokenizer_dir() -> Path:
    """The SmolLM2 tokenizer saved as a plain HF directory (reading it from GGUF is slow)."""
    out = CACHE / "smollm2-tokenizer"
    if not (out / "tokenizer_config.json").exists():
        from engine.models import load_tokenizer

        load_tokenizer().save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_model_dir(smollm_tokenizer_dir: Path) -> Path:
    """A random-initialised 2-layer Llama with SmolLM2's tokenizer and chat template."""
    out = CACHE / "tiny-llama"
    if not (out / "config.json").exists():
        from transformers import AutoTokenizer

        from engine.models import save_tiny_llama

        save_tiny_llama(out, AutoTokenizer.from_pretrained(smollm_tokenizer_dir))
    return out


@pytest.fixture(scope="session")
def subject_model_dir(sample_corpus) -> Path:
    """The real SmolLM2 fine-tuned on the sample corpus: the "deployed" model that knows the
    customers. Built once per cache (minutes on a CPU), reused by every e2e test."""
    from engine.subject import build_subject_model

    return build_subject_model(sample_corpus, cache_dir=CACHE / "subject")


@pytest.fixture(scope="session")
def tiny_subject_dir(tiny_model_dir: Path, sample_corpus) -> Path:
    """The tiny random model briefly fine-tuned on the sample corpus, so that it answers in
    words (a random model's greedy answer is empty) and the pipeline has text to audit."""
    from engine.subject import SubjectConfig, build_subject_model

    return build_subject_model(
        sample_corpus, base=str(tiny_model_dir), cache_dir=CACHE / "tiny-subject",
        config=SubjectConfig(epochs=6, lr=5e-3, batch_size=16, max_length=96),
    )
