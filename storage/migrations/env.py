"""Alembic environment for the run index.

:func:`storage.db.open_index` runs migrations programmatically and hands over
an open connection (already inside a locked transaction) through
``config.attributes["connection"]``; no ``alembic.ini`` is needed. Called from
the ``alembic`` command line instead, it connects to ``sqlalchemy.url`` from
the config, or to ``VIGIL_INDEX_URL``.
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine

from storage.models import SQLModel

config = context.config
target_metadata = SQLModel.metadata


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate through the connection handed over by open_index, else open one."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or os.environ["VIGIL_INDEX_URL"]
    with create_engine(url).connect() as conn:
        _run(conn)
        conn.commit()


if context.is_offline_mode():
    raise SystemExit("storage migrations run online only: use storage.db.open_index(url)")
run_migrations_online()
