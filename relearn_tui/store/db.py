"""Opening the database: SQLite (WAL, busy timeout, immediate write transactions) or any
SQLAlchemy URL, with Alembic migrations applied on start.

Every write transaction takes the database's one write lock before it reads anything (SQLite:
``BEGIN IMMEDIATE``; PostgreSQL and others: the chain-head row ``FOR UPDATE``), so a decision is
always made on the current state, whatever the database's isolation level. Reads take no lock.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import Session

from relearn_tui.errors import OperatorError, UnavailableError

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
BUSY_TIMEOUT_MS = 30_000
# how long a write waits quietly for the lock before it says it is waiting
NOTICE_AFTER_MS = 2_000
# any constant: the key of the PostgreSQL advisory lock that serialises migrations
MIGRATION_LOCK_KEY = 0x72656C6561726E
_READ = "relearn_read"
# where a session carries the event chain's HMAC key (Session.info; see workflow.chain_key)
CHAIN_KEY = "chain_key"

log = logging.getLogger("relearn_tui.store")


class StoreError(OperatorError):
    """The database cannot be opened or migrated; the message names the URL (without password)."""


class StoreBusy(StoreError, UnavailableError):
    """Another process held the write lock for longer than we wait; nothing was changed."""


def _busy_message() -> str:
    return (f"the database is busy: another relearn-tui process has been writing for over "
            f"{(NOTICE_AFTER_MS + BUSY_TIMEOUT_MS) // 1000} s; nothing was changed, try again")


WAIT_NOTICE = "waiting for the database: another relearn-tui process is writing to it"


def _switch_to_wal(cur) -> None:
    """Put the file in WAL mode (a setting stored in the file, so this changes something only
    the first time). The switch needs the file's exclusive lock, and SQLite does not call the
    busy handler for it when another connection is opening the same new file at that moment:
    two processes starting on a fresh database got "database is locked" at once. So wait here,
    as busy_timeout would have, and give the usual busy error when the time is up."""
    import sqlite3

    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    pause = 0.005
    while True:
        try:
            cur.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() > deadline:
                raise StoreBusy(_busy_message()) from None
        time.sleep(pause)
        pause = min(pause * 2, 0.2)


def _sqlite_setup(engine: Engine, notice: Callable[[], None]) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        # Let SQLAlchemy, not pysqlite, decide when a transaction starts (see _on_begin).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        _switch_to_wal(cur)
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA foreign_keys = ON")
        # freed pages are zeroed, so a purged value does not linger in the file
        cur.execute("PRAGMA secure_delete = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        if conn.get_execution_options().get(_READ):
            # a reader sees the last committed state (WAL) and never waits for a writer
            conn.exec_driver_sql("BEGIN")
            return
        # IMMEDIATE takes the write lock up front: two processes appending to the event chain
        # then queue on busy_timeout instead of one failing with "database is locked" on
        # upgrade, and whatever the transaction reads is current until it commits.
        import sqlite3

        cur = conn.connection.dbapi_connection.cursor()
        try:
            cur.execute(f"PRAGMA busy_timeout = {NOTICE_AFTER_MS}")
            try:
                cur.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
            notice()
            cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            try:
                cur.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    raise StoreBusy(_busy_message()) from None
                raise
        finally:
            cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            cur.close()


def one_line(exc: BaseException) -> str:
    """The first line of an error: a driver's message goes on with hints, and SQLAlchemy
    appends the statement and its parameters (which can hold personal data)."""
    lines = str(exc).strip().splitlines()
    return lines[0].strip() if lines else type(exc).__name__


def _sqlstate(exc: DBAPIError) -> str | None:
    return getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)


def _private_file(path: Path) -> None:
    """Create the SQLite file owner-only (0600) before SQLite does with the umask's mode (0644
    in a data folder another user can enter): it holds names and facts. SQLite gives its WAL
    and shared-memory files the database file's mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def make_engine(url: str, notice: Callable[[], None] | None = None) -> Engine:
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise StoreError(f"--db {url!r}: not a database URL ({exc})") from exc
    try:
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                _private_file(Path(parsed.database))
            engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000},
                                   hide_parameters=True)
            _sqlite_setup(engine, notice or (lambda: None))
            return engine
        if parsed.drivername == "postgresql":
            # a plain postgresql:// URL means psycopg2 to SQLAlchemy; we ship psycopg (3)
            parsed = parsed.set(drivername="postgresql+psycopg")
        # an error's text then never carries the statement's values (names, facts)
        return create_engine(parsed, pool_pre_ping=True, hide_parameters=True)
    except Exception as exc:
        # e.g. a PostgreSQL URL whose driver is not installed, or an unknown dialect
        shown = parsed.render_as_string(hide_password=True)
        raise StoreError(f"{shown}: cannot use this database: {type(exc).__name__}: "
                         f"{one_line(exc)}") from exc


def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _at_revision(engine: Engine, cfg, revision: str) -> bool:
    """Whether the schema already is at ``revision``, read without any write lock."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(cfg)
    wanted = set(script.get_heads()) if revision == "head" else {revision}
    with engine.execution_options(**{_READ: True}).connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
        conn.rollback()
    return current == wanted


def migrate(engine: Engine, revision: str = "head",
            notice: Callable[[], None] | None = None) -> None:
    """Bring the schema to ``revision`` (head by default) on the given engine.

    A database already there is only read (no write lock: many processes start at once). On
    PostgreSQL an advisory lock makes concurrent first starts migrate one after the other
    (without it each one creates ``alembic_version`` and all but one fail)."""
    from alembic import command

    url = engine.url.render_as_string(hide_password=False)
    if revision == "head" and url in _AT_HEAD:
        return
    _AT_HEAD.discard(url)  # moved elsewhere (a downgrade in a test or a tool)
    cfg = alembic_config(url)
    if _at_revision(engine, cfg, revision):
        _remember_head(url, revision)
        return
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            key = {"key": MIGRATION_LOCK_KEY}
            if not conn.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), key).scalar():
                if notice is not None:
                    notice()
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), key)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    _remember_head(url, revision)


# databases this process has seen at the head revision: a schema does not go backwards under
# a running program, and reading Alembic's scripts again costs a tenth of a second per open
_AT_HEAD: set[str] = set()


def _remember_head(url: str, revision: str) -> None:
    if revision == "head" and not url.endswith(":memory:"):
        _AT_HEAD.add(url)


class Store:
    """A migrated database and a factory for short sessions.

    Sessions are meant to be short: never hold one across model training or generation.
    ``on_wait`` is told (once per transaction) when a write has to wait for another process.
    """

    def __init__(self, url: str, *, auto_migrate: bool = True,
                 on_wait: Callable[[str], None] | None = None,
                 chain_key: bytes | None = None) -> None:
        self.url = url
        self.on_wait = on_wait
        # without it, events are written and checked as the unkeyed version 1 (bare stores in
        # tests and tools); every command passes the deployment's key
        self._info = {CHAIN_KEY: chain_key} if chain_key else {}
        self.engine = make_engine(url, self._notice)
        self._reader = self.engine.execution_options(**{_READ: True})
        if auto_migrate:
            try:
                migrate(self.engine, notice=self._notice)
            except StoreBusy:
                raise
            except Exception as exc:
                shown = make_url(url).render_as_string(hide_password=True)
                raise StoreError(f"{shown}: cannot open or migrate the database: "
                                 f"{one_line(exc)}") from exc

    def _notice(self) -> None:
        log.info("a write waits for the database lock")
        if self.on_wait is not None:
            self.on_wait(WAIT_NOTICE)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A write transaction: it holds the write lock from its start, commits on success
        and rolls back on any error."""
        with Session(self.engine, expire_on_commit=False, info=self._info) as session:
            try:
                self._lock(session)
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only transaction: no lock, never waits for a writer, changes nothing."""
        # closing the session ends the transaction (rolled back by the pool) and keeps what
        # was loaded readable, unlike rollback(), which would expire it
        with Session(self._reader, expire_on_commit=False, info=self._info) as session:
            if self.engine.dialect.name == "postgresql":
                # one snapshot for the whole read, as SQLite's WAL gives: a chain check must
                # not see events appended after it read the head
                session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, "
                                     "READ ONLY"))
            yield session

    def _lock(self, session: Session) -> None:
        if self.engine.dialect.name == "sqlite":
            session.connection()  # BEGIN IMMEDIATE (see _sqlite_setup)
            return
        lock = text("SELECT id FROM chain_head WHERE id = 1 FOR UPDATE")
        if self.engine.dialect.name != "postgresql":
            session.execute(lock)
            return
        session.execute(text(f"SET LOCAL lock_timeout = {NOTICE_AFTER_MS}"))
        try:
            with session.begin_nested():
                session.execute(lock)
            return
        except OperationalError as exc:
            if _sqlstate(exc) != "55P03":  # lock_not_available
                raise
        self._notice()
        session.execute(text(f"SET LOCAL lock_timeout = {BUSY_TIMEOUT_MS}"))
        try:
            with session.begin_nested():
                session.execute(lock)
        except OperationalError as exc:
            if _sqlstate(exc) == "55P03":
                raise StoreBusy(_busy_message()) from None
            raise

    def close(self) -> None:
        self.engine.dispose()
