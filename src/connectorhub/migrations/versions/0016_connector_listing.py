"""connector listing: a description column and the sorted list's indexes (issue 15)

Revision ID: 0016_connector_listing
Revises: 0015_certification

The portal's connector list searches titles and descriptions and sorts by title or by
last update (docs/benchmarks.md, portal pages). The description was read out of every
stored definition, so a search decompressed (PostgreSQL) or walked (SQLite) all of them.
It becomes a column, filled here for the existing connectors with the same function the
use cases call when they store a definition. The indexes let a page be read in sort
order and stop: (environment_id, updated_at, id, owner_id) on both databases, (environment_id,
lower(title), id) on PostgreSQL, and on SQLite one index holding every column the list
filters and searches on (see ``Connector.__table_args__``).
"""
import json

import sqlalchemy as sa
from alembic import op

from connectorhub.connectors.models import description_of

revision = '0016_connector_listing'
down_revision = '0015_certification'
branch_labels = None
depends_on = None

BATCH = 200  # definitions read at a time (they may be hundreds of kB each)


def _described(text: str) -> str:
    try:
        return description_of(json.loads(text))
    except ValueError:
        return ""


def upgrade() -> None:
    bind = op.get_bind()
    # A plain ADD COLUMN on both databases: SQLite adds a column with a constant default
    # without rebuilding the table (a rebuild would cascade to the revisions).
    op.add_column('connectors', sa.Column('description', sa.Text(), server_default='', nullable=False))
    connectors = sa.table('connectors', sa.column('id', sa.String), sa.column('api_definition', sa.Text), sa.column('description', sa.Text))
    after = ""
    while True:
        rows = bind.execute(
            sa.select(connectors.c.id, connectors.c.api_definition).where(connectors.c.id > after).order_by(connectors.c.id).limit(BATCH)
        ).all()
        if not rows:
            break
        described = [{"key": cid, "value": _described(text)} for cid, text in rows if text]
        described = [row for row in described if row["value"]]
        if described:
            bind.execute(
                connectors.update().where(connectors.c.id == sa.bindparam("key")).values(description=sa.bindparam("value")),
                described,
            )
        after = rows[-1][0]
    op.create_index('ix_connectors_environment_updated_id', 'connectors', ['environment_id', 'updated_at', 'id', 'owner_id'])
    if bind.dialect.name == "sqlite":
        op.create_index(
            'ix_connectors_listing', 'connectors',
            ['environment_id', sa.text('lower(title)'), 'id', 'kind', 'owner_id', 'updated_at', 'title', 'description'],
        )
    else:
        op.create_index('ix_connectors_environment_title_id', 'connectors', ['environment_id', sa.text('lower(title)'), 'id'])


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.drop_index('ix_connectors_listing', table_name='connectors')
    else:
        op.drop_index('ix_connectors_environment_title_id', table_name='connectors')
    op.drop_index('ix_connectors_environment_updated_id', table_name='connectors')
    op.execute("ALTER TABLE connectors DROP COLUMN description")  # SQLite 3.35 and later, PostgreSQL
