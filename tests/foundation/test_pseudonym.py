"""Pseudonyms and the deployment secret: stable for one secret, different across secrets, the
secret file created once with mode 0600 in RELEARN_HOME."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest

from relearn_tui.context import AppContext
from relearn_tui.paths import data_home, default_db_url, deployment_secret
from relearn_tui.pseudonym import pseudonym, value_hash

A, B = b"a" * 32, b"b" * 32


def test_pseudonym_is_stable_for_one_secret() -> None:
    first = pseudonym(A, "Isabella Marquez", "crm-88213")
    assert first == pseudonym(A, "Isabella Marquez", "crm-88213")
    assert first.startswith("S-") and len(first) == 14
    int(first[2:], 16)
    assert "Isabella" not in first


def test_pseudonym_differs_across_secrets_names_and_references() -> None:
    base = pseudonym(A, "Isabella Marquez", "crm-88213")
    assert pseudonym(B, "Isabella Marquez", "crm-88213") != base
    assert pseudonym(A, "Isabella Marques", "crm-88213") != base
    assert pseudonym(A, "Isabella Marquez", "crm-88214") != base
    assert pseudonym(A, "Isabella Marquez") != base
    # the separator keeps name and reference apart
    assert pseudonym(A, "ab", "c") != pseudonym(A, "a", "bc")


def test_pseudonym_ignores_case_spacing_and_unicode_forms() -> None:
    base = pseudonym(A, "Isabella Márquez")
    assert pseudonym(A, "  isabella   MÁRQUEZ ") == base
    assert pseudonym(A, "Isabella Ma\u0301rquez") == base  # decomposed accent


def test_value_hash_is_salted_per_request() -> None:
    v = "isabella.marquez@example.org"
    assert value_hash(A, "DSR-1", v) == value_hash(A, "DSR-1", " ISABELLA.marquez@example.org")
    assert value_hash(A, "DSR-1", v) != value_hash(A, "DSR-2", v)
    assert value_hash(A, "DSR-1", v) != value_hash(B, "DSR-1", v)
    assert v not in value_hash(A, "DSR-1", v)


def test_secret_created_once_with_mode_0600_in_relearn_home(home: Path) -> None:
    assert data_home() == home
    secret = deployment_secret()
    path = home / "secret.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(secret) == 32
    assert deployment_secret() == secret
    assert deployment_secret(home) == secret
    assert AppContext.create().secret == secret


def test_secret_differs_between_data_directories(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    assert deployment_secret(one) != deployment_secret(two)


def test_data_home_and_database_live_under_relearn_home(home: Path) -> None:
    assert not home.exists()
    assert data_home() == home and home.is_dir()
    assert stat.S_IMODE(home.stat().st_mode) & 0o077 == 0, "others can read the data folder"
    assert default_db_url() == f"sqlite:///{home / 'relearn.db'}"
    assert AppContext.create().db_url == default_db_url()


def test_concurrent_first_starts_agree_on_one_secret(tmp_path: Path) -> None:
    """A TUI and a headless run started together on a fresh data directory: both get the
    same, complete secret (no FileExistsError, no empty key read half-written)."""
    for attempt in range(30):
        folder = tmp_path / f"race-{attempt}"
        folder.mkdir()
        barrier = threading.Barrier(8)
        results: list[bytes | BaseException] = []

        def start(folder: Path = folder, barrier: threading.Barrier = barrier,
                  results: list = results) -> None:
            barrier.wait()
            try:
                results.append(deployment_secret(folder))
            except BaseException as exc:  # recorded, asserted below
                results.append(exc)

        threads = [threading.Thread(target=start) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not [r for r in results if isinstance(r, BaseException)], results
        assert len(set(results)) == 1 and len(results[0]) == 32  # type: ignore[arg-type]


def test_damaged_secret_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "secret.key").write_text("")
    with pytest.raises(ValueError, match=r"secret\.key"):
        deployment_secret(tmp_path)
    (tmp_path / "secret.key").write_text("not hex at all")
    with pytest.raises(ValueError, match=r"secret\.key"):
        deployment_secret(tmp_path)
