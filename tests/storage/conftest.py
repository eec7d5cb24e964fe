"""Index backends for storage tests: SQLite in a temporary folder and a fresh Postgres database.

The Postgres database gets a random name, is created for one test and dropped
after it. When the server is unreachable the Postgres cases skip, except under
CI (env ``CI`` set), where they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from suite.settings import Settings
from storage.store import ResultStore

PG_ADMIN = os.environ.get("VIGIL_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")


def _admin() -> psycopg.Connection:
    try:
        return psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        if os.environ.get("CI"):
            pytest.fail(f"Postgres at {PG_ADMIN} is unreachable under CI: {error}")
        pytest.skip(f"Postgres at {PG_ADMIN} is unreachable: {error}")


@pytest.fixture
def postgres_server() -> str:
    """SQLAlchemy URL prefix of the reachable Postgres server (no database name)."""
    with _admin():
        pass
    return PG_ADMIN.replace("postgresql://", "postgresql+psycopg://").rsplit("/", 1)[0]


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """SQLAlchemy URL of a new, empty Postgres database, dropped after the test."""
    name = f"vigil_test_{uuid.uuid4().hex[:12]}"
    with _admin() as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"{postgres_server}/{name}"
    finally:
        with _admin() as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def index_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty index on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'home' / 'index.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def settings(tmp_path: Path, index_url: str) -> Settings:
    """Settings with a fresh VIGIL_HOME and an empty index on the parametrised backend."""
    return Settings(home=tmp_path / "home", index_url=index_url, ray_address=None)


@pytest.fixture
def store(settings: Settings) -> Iterator[ResultStore]:
    """A ResultStore on ``settings``, closed after the test so Postgres can drop its database."""
    result_store = ResultStore(settings)
    yield result_store
    result_store.close()
