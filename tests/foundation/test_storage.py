"""The store: Alembic base -> head -> base -> head, no drift between models and migrations,
SQLite opened in WAL mode with a busy timeout, and clear errors for a bad database URL."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlmodel import SQLModel

from relearn_tui import workflow
from relearn_tui.store import Store, StoreError
from relearn_tui.store.db import alembic_config

from .support import add_request

TABLES = {"request", "fact", "variant", "run", "audit_result", "event", "chain_head"}


def _alembic(store: Store, action: str, revision: str) -> None:
    cfg = alembic_config(store.url)
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, action)(cfg, revision)


def _tables(store: Store) -> set[str]:
    with store.engine.connect() as conn:
        return set(inspect(conn).get_table_names()) - {"alembic_version"}


def _drift(store: Store) -> list:
    with store.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(ctx, SQLModel.metadata)


def _revision(store: Store) -> str | None:
    with store.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def test_base_head_base_head_round_trip(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'rt.db'}")
    head = ScriptDirectory.from_config(alembic_config(store.url)).get_current_head()
    assert head is not None
    assert _revision(store) == head
    assert _tables(store) == TABLES

    _alembic(store, "downgrade", "base")
    assert _revision(store) is None
    assert _tables(store) == set()

    _alembic(store, "upgrade", "head")
    assert _revision(store) == head
    assert _tables(store) == TABLES
    assert _drift(store) == []
    # the genesis chain head is seeded again, so the first event links to it
    with store.session() as s:
        assert workflow.head_hash(s) == workflow.GENESIS_HASH

    _alembic(store, "downgrade", "base")
    _alembic(store, "upgrade", "head")
    rid = add_request(store, tmp_path, "augmented")
    with store.session() as s:
        assert workflow.get_request(s, rid).state == "augmented"
        assert workflow.verify_chain(s).ok
    store.close()


def test_models_and_migrations_do_not_drift(store: Store) -> None:
    assert _drift(store) == []


def test_drift_check_sees_a_missing_table(tmp_path: Path) -> None:
    """The comparison above can fail: a database one table short is reported."""
    store = Store(f"sqlite:///{tmp_path / 'short.db'}")
    with store.engine.begin() as conn:
        conn.execute(text("DROP TABLE variant"))
    diffs = _drift(store)
    assert any(d[0] == "add_table" and d[1].name == "variant" for d in diffs)
    store.close()


def test_migrate_on_start_is_idempotent_and_keeps_data(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'again.db'}"
    first = Store(url)
    rid = add_request(first, tmp_path, "human_reviewed")
    first.close()
    second = Store(url)  # runs the migrations again: a no-op at head
    assert state_of_raw(second, rid) == "human_reviewed"
    assert _drift(second) == []
    second.close()


def state_of_raw(store: Store, rid: str) -> str:
    with store.engine.connect() as conn:
        sql = text("SELECT state FROM request WHERE id = :r")
        return conn.execute(sql, {"r": rid}).scalar_one()


def test_store_without_auto_migrate_creates_no_tables(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'bare.db'}", auto_migrate=False)
    assert _tables(store) == set()
    store.close()


def test_sqlite_pragmas(store: Store) -> None:
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_sqlite_parent_folder_is_created(tmp_path: Path) -> None:
    deep = tmp_path / "a" / "b" / "relearn.db"
    store = Store(f"sqlite:///{deep}")
    assert deep.exists()
    store.close()


def test_bad_url_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="not a database URL"):
        Store("this is not a url")


def test_unmigratable_database_is_a_store_error_without_password(tmp_path: Path) -> None:
    bad = tmp_path / "garbage.db"
    bad.write_bytes(b"this is not an SQLite database file" * 100)
    with pytest.raises(StoreError) as info:
        Store(f"sqlite:///{bad}")
    assert "cannot open or migrate" in str(info.value)
    assert str(bad) in str(info.value)


def test_unreachable_database_is_a_store_error_without_password() -> None:
    """A PostgreSQL URL nobody answers at (or without its driver installed): one clear line,
    not a traceback, and the password never printed."""
    with pytest.raises(StoreError) as info:
        Store("postgresql+psycopg://admin:s3cr3t-pw@127.0.0.1:9/relearn")
    message = str(info.value)
    assert "s3cr3t-pw" not in message
    assert "127.0.0.1" in message
    assert "\n" not in message


def test_session_rolls_back_on_error(store: Store, tmp_path: Path) -> None:
    rid = add_request(store, tmp_path)
    with pytest.raises(RuntimeError), store.session() as s:
        req = workflow.get_request(s, rid)
        req.ground = "changed"
        s.add(req)
        s.flush()
        raise RuntimeError("boom")
    with store.session() as s:
        assert workflow.get_request(s, rid).ground == "art17-1a"
