"""Database engine, sessions and migrations (DESIGN K3).

SQLite runs in WAL mode with a busy timeout so several readers and one writer coexist;
PostgreSQL is reached through psycopg 3. Migrations are Alembic's, shipped inside the
package and run at start; on PostgreSQL an advisory lock serialises concurrent starts
of several ``serve`` processes.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import DateTime, MetaData, create_engine, event, inspect, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from connectorhub.private_files import create_empty_private_file, private_folder, warn_if_shared

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

MIGRATION_LOCK_KEY = 0x636F6E6E  # 'conn': advisory lock id for migrations/bootstrap


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UtcDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on both SQLite (which drops tzinfo) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        # SQLite keeps the wall time and drops the offset: 00:00+02:00 read back as
        # 00:00 UTC, two hours late (a flow's start, an audit filter). Stored as UTC.
        return value.astimezone(dt.timezone.utc)

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = make_url(url).database
        if path and path != ":memory:" and not path.startswith("file:"):
            _private_database_file(Path(path))
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # pragma: no cover - trivial
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()
            # Python's sqlite3 opens transactions lazily and lets reads run outside them;
            # take control so each Session transaction is one SQLite transaction.
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # pragma: no cover - trivial
            # Writers begin IMMEDIATE: a deferred transaction that reads and then writes
            # can fail at once with SQLITE_BUSY instead of waiting for the other writer.
            mode = conn.get_execution_options().get("sqlite_begin", "")
            conn.exec_driver_sql(f"BEGIN {mode}".strip())

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _private_database_file(path: Path) -> None:
    """L7: a new SQLite database (and so its -wal and -shm files, which SQLite creates
    with the database's mode) is private to the service's user, in a folder created
    mode 700; an existing one open to others is reported in the log with the fix."""
    private_folder(path.parent)
    if not create_empty_private_file(path):
        for name in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            warn_if_shared(name, "the database file")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision; safe when several processes start at once."""
    # alembic takes about 0.4 s to import (measured), and every CLI command imports this
    # module: only what migrates (serve, the tests) pays it.
    from alembic import command, config as alembic

    config = alembic.Config()
    config.set_main_option("script_location", "connectorhub:migrations")
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
        if _AT_NEWEST and _versions(connection) == _AT_NEWEST:
            return
        config.attributes["connection"] = connection
        # "heads": parallel branches of work may each add a revision off the same parent.
        command.upgrade(config, "heads")
        _AT_NEWEST.update(_versions(connection))


# What alembic_version holds once migrated to the newest revisions, learnt at this
# process's first migration. alembic's upgrade of a schema already there changes nothing,
# but loads and compiles every revision file each time: 60 ms of each start (measured),
# which every test's application paid.
_AT_NEWEST: set[str] = set()


def _versions(connection) -> set[str]:
    if not inspect(connection).has_table("alembic_version"):
        return set()
    return set(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())


def ping(engine: Engine) -> None:
    """One round trip to the database (``/healthz``): raises when it cannot be reached."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
