"""PostgreSQL: compress stored connector files with lz4 instead of pglz

Connector definitions are large text; pglz compression was the biggest part of an
INSERT in the corpus import benchmark (docs/benchmarks.md). Skipped where lz4 is not
available (PostgreSQL < 14 or a build without it) and on SQLite.

Revision ID: 0003
Revises: 0002
"""
from alembic import op
from sqlalchemy import text

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

COLUMNS = ("api_definition", "api_properties")


def _lz4_available(bind) -> bool:
    if bind.dialect.name != "postgresql":
        return False
    row = bind.execute(
        text("SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)")
    ).first()
    return row is not None


def upgrade() -> None:
    bind = op.get_bind()
    if _lz4_available(bind):
        for column in COLUMNS:
            op.execute(f"ALTER TABLE connectors ALTER COLUMN {column} SET COMPRESSION lz4")


def downgrade() -> None:
    bind = op.get_bind()
    if _lz4_available(bind):
        for column in COLUMNS:
            op.execute(f"ALTER TABLE connectors ALTER COLUMN {column} SET COMPRESSION pglz")
