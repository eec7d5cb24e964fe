"""Engine and session for the run index, and its migration to the newest schema.

The index lives in SQLite under ``VIGIL_HOME`` by default (WAL journal, 5 s
busy timeout) or at any SQLAlchemy URL, e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432/vigil``.

Example:
    >>> from sqlmodel import Session, select
    >>> from storage.models import Run
    >>> engine = open_index("sqlite://")  # in memory, migrated to head
    >>> with Session(engine) as session:
    ...     session.exec(select(Run)).all()
    []
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, func, select
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.pool import StaticPool

__all__ = ["BUSY_TIMEOUT_S", "create_index_engine", "open_index", "upgrade_to_head", "write_connection_options"]

BUSY_TIMEOUT_S = 5.0
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# Any fixed 64-bit number: every process migrating one Postgres index agrees on it.
_MIGRATION_LOCK_KEY = 0x5649_4749_4C00  # "VIGIL"
_IMMEDIATE = "vigil_sqlite_immediate"


def create_index_engine(url: str) -> Engine:
    """An engine for ``url``, tuned for short concurrent write transactions.

    A plain ``postgresql://`` URL uses psycopg 3 (``postgresql+psycopg://``).

    On SQLite the engine enables WAL, a busy timeout of :data:`BUSY_TIMEOUT_S`
    and foreign keys, and takes over transaction control from the sqlite3
    driver so DDL is transactional too. A connection opened with the execution
    option ``vigil_sqlite_immediate=True`` begins with ``BEGIN IMMEDIATE`` so
    writers queue for the lock instead of failing on upgrade.
    """
    parsed = make_url(url)
    if parsed.drivername == "postgresql":  # the installed driver is psycopg 3, not SQLAlchemy's default psycopg2
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True)
    database = parsed.database or ""
    kwargs: dict[str, Any] = {"connect_args": {"timeout": BUSY_TIMEOUT_S, "check_same_thread": False}}
    if database in ("", ":memory:"):
        kwargs["poolclass"] = StaticPool  # one shared in-memory database per engine
    else:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        _enable_wal(cursor)
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(_IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _enable_wal(cursor: sqlite3.Cursor) -> None:
    """Switch to WAL, retrying: racing first connections get "database is locked" at once.

    Changing the journal mode needs an exclusive lock for which SQLite does not
    apply the busy timeout, so several processes opening a fresh index fail
    without waiting. The mode is stored in the file; once set, this is a no-op.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def write_connection_options() -> dict[str, Any]:
    """Execution options for a connection that will write (``BEGIN IMMEDIATE`` on SQLite)."""
    return {_IMMEDIATE: True}


def upgrade_to_head(engine: Engine) -> None:
    """Migrate the index behind ``engine`` to the newest schema, safely under concurrency.

    The whole upgrade runs in one transaction that first takes a lock: a
    transaction-scoped advisory lock on Postgres, the SQLite write lock
    (``BEGIN IMMEDIATE``) on SQLite. A second process waits, then finds the
    schema at head and does nothing.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.connect().execution_options(**write_connection_options()) as connection:
        with connection.begin():
            if connection.dialect.name == "postgresql":
                connection.execute(select(func.pg_advisory_xact_lock(_MIGRATION_LOCK_KEY)))
            config.attributes["connection"] = connection
            command.upgrade(config, "head")


def open_index(url: str) -> Engine:
    """An engine for the index at ``url``, with its schema migrated to head.

    Args:
        url: Any SQLAlchemy URL; ``sqlite:///path/index.db`` creates the folder.

    Returns:
        The engine; use ``with Session(engine) as session`` per unit of work.
    """
    engine = create_index_engine(url)
    try:
        upgrade_to_head(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine
