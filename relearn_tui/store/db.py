"""Opening the database: SQLite (WAL, busy timeout, immediate write transactions) or any
SQLAlchemy URL, with Alembic migrations applied on start."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlmodel import Session

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
BUSY_TIMEOUT_MS = 30_000


class StoreError(Exception):
    """The database cannot be opened or migrated; the message names the URL (without password)."""


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        # Let SQLAlchemy, not pysqlite, decide when a transaction starts (see _on_begin).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA foreign_keys = ON")
        # freed pages are zeroed, so a purged value does not linger in the file
        cur.execute("PRAGMA secure_delete = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        # IMMEDIATE takes the write lock up front: two processes appending to the event chain
        # then queue on busy_timeout instead of one failing with "database is locked" on upgrade.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise StoreError(f"--db {url!r}: not a database URL ({exc})") from exc
    try:
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
            _sqlite_setup(engine)
            return engine
        return create_engine(url, pool_pre_ping=True)
    except Exception as exc:
        # e.g. a PostgreSQL URL whose driver is not installed, or an unknown dialect
        shown = parsed.render_as_string(hide_password=True)
        raise StoreError(f"{shown}: cannot use this database: {type(exc).__name__}: {exc}") \
            from exc


def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (head by default) on the given engine."""
    from alembic import command

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


class Store:
    """A migrated database and a factory for short sessions.

    Sessions are meant to be short: never hold one across model training or generation.
    """

    def __init__(self, url: str, *, auto_migrate: bool = True) -> None:
        self.url = url
        self.engine = make_engine(url)
        if auto_migrate:
            try:
                migrate(self.engine)
            except Exception as exc:
                shown = make_url(url).render_as_string(hide_password=True)
                raise StoreError(f"{shown}: cannot open or migrate the database: {exc}") from exc

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on any error."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def close(self) -> None:
        self.engine.dispose()
