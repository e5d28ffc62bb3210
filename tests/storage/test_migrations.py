"""K3: the Alembic migrations create exactly the schema the models declare, on SQLite and
PostgreSQL, so `serve` on an upgraded database behaves like a fresh one."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Index, create_engine, inspect, text

from connectorhub.db import make_engine, migrate
from connectorhub.models import metadata


def _declared_for(item, dialect: str) -> bool:
    """An index declared for one database only (``Index(...).ddl_if(dialect=...)``)."""
    only = getattr(getattr(item, "_ddl_if", None), "dialect", None)
    return only is None or dialect in ((only,) if isinstance(only, str) else only)


def _index_names(connection) -> set[str]:
    if connection.dialect.name == "sqlite":
        return set(connection.execute(text("SELECT name FROM sqlite_master WHERE type = 'index'")).scalars())
    return {index["name"] for table in inspect(connection).get_table_names() for index in inspect(connection).get_indexes(table)}


def test_migrations_match_the_models(database_url):
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            dialect = connection.dialect.name

            def include_object(item, name, type_, reflected, compare_to):
                return reflected or not isinstance(item, Index) or _declared_for(item, dialect)

            context = MigrationContext.configure(connection, opts={"compare_type": True, "include_object": include_object})
            differences = compare_metadata(context, metadata)
            present = _index_names(connection)
    finally:
        engine.dispose()
    assert differences == [], f"models and migrations differ: {differences}"
    # Alembic cannot compare an index on an expression on SQLite (it skips them): by name.
    indexes = [index for table in metadata.tables.values() for index in table.indexes]
    assert {i.name for i in indexes if _declared_for(i, dialect)} <= present
    assert not {i.name for i in indexes if not _declared_for(i, dialect)} & present


def test_a_schema_at_the_newest_revisions_is_not_migrated_again_and_an_older_one_is(tmp_path, monkeypatch):
    """Every start (and every test's application) migrates: alembic's upgrade of a schema
    already at the newest revisions loads and compiles every revision file for nothing
    (60 ms of each start), so it is skipped then; a schema behind is still brought up."""
    calls: list[str] = []
    upgrade = command.upgrade
    monkeypatch.setattr(command, "upgrade", lambda config, target: (calls.append(target), upgrade(config, target))[1])

    def versions(engine) -> set[str]:
        with engine.connect() as connection:
            return set(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())

    newest = make_engine(f"sqlite:///{tmp_path / 'newest.db'}")
    older = make_engine(f"sqlite:///{tmp_path / 'older.db'}")
    try:
        migrate(newest)  # an empty database: migrated
        assert calls == ["heads"]
        migrate(newest)  # already there: alembic is not run
        assert calls == ["heads"]
        config = Config()
        config.set_main_option("script_location", "connectorhub:migrations")
        with older.begin() as connection:
            config.attributes["connection"] = connection
            upgrade(config, "0014")
        assert versions(older) != versions(newest)
        migrate(older)  # behind: migrated to where the other is
        assert calls == ["heads", "heads"] and versions(older) == versions(newest)
    finally:
        newest.dispose()
        older.dispose()
