"""Alembic migrations create exactly the SQLModel schema, on SQLite and Postgres, even when raced."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from storage.db import MIGRATIONS_DIR, open_index, upgrade_to_head
from storage.models import SQLModel
from tests.storage.factories import race

TABLES = {"run", "model_version", "dataset_version", "metric_summary", "artifact"}


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def _revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def test_open_index_creates_the_model_schema(index_url: str) -> None:
    engine = open_index(index_url)
    try:
        assert TABLES <= set(inspect(engine).get_table_names())
        assert _revision(engine) == ScriptDirectory.from_config(_config()).get_current_head()
        with engine.connect() as connection:
            # what the migration built, compared against the SQLModel tables: no difference at all
            assert compare_metadata(MigrationContext.configure(connection), SQLModel.metadata) == []
        unique = {c["name"]: c["column_names"] for c in inspect(engine).get_unique_constraints("metric_summary")}
        assert unique["uq_metric_summary_key"] == ["run_id", "dataset", "model", "variant", "slice", "metric"]
        if engine.dialect.name == "sqlite":
            with engine.connect() as connection:
                assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
                assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
    finally:
        engine.dispose()


def test_downgrade_then_upgrade_again(index_url: str) -> None:
    engine = open_index(index_url)
    try:
        with engine.begin() as connection:
            config = _config()
            config.attributes["connection"] = connection
            command.downgrade(config, "base")
        assert not TABLES & set(inspect(engine).get_table_names())
        upgrade_to_head(engine)
        upgrade_to_head(engine)  # a second upgrade at head changes nothing
        assert TABLES <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_concurrent_open_index_on_a_fresh_database(index_url: str) -> None:
    engines: list[Engine] = []
    errors = race(lambda _: engines.append(open_index(index_url)), 4)
    try:
        assert errors == []
        assert {_revision(engine) for engine in engines} == {ScriptDirectory.from_config(_config()).get_current_head()}
    finally:
        for engine in engines:
            engine.dispose()


def test_plain_postgresql_url_uses_psycopg(postgres_url: str) -> None:
    engine = open_index(postgres_url.replace("postgresql+psycopg://", "postgresql://"))
    try:
        assert engine.dialect.driver == "psycopg"
        assert TABLES <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
