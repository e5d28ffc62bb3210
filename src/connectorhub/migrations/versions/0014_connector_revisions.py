"""connector revisions (C5)

Revision ID: 0014_connector_revisions
Revises: 0004 (the connectors and users tables are older)

Each existing connector gets the row of its current revision, numbered with its revision
counter, made by its owner at its last update (``source`` 'migrated'); its files stay in
the connector (the current revision's files are the connector's own). Earlier revisions
were never kept, so there is nothing else to copy.
"""
import sqlalchemy as sa
from alembic import op

from connectorhub.db import UtcDateTime

# A name rather than the next number: other branches of work add revisions off the same
# parent, and two '0014' would collide.
revision = '0014_connector_revisions'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'connector_revisions',
        sa.Column('connector_id', sa.String(length=40), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('source', sa.String(length=20), nullable=False),
        sa.Column('restored_from', sa.Integer(), nullable=True),
        sa.Column('created_by', sa.String(length=40), nullable=True),
        sa.Column('created_at', UtcDateTime(timezone=True), nullable=False),
        sa.Column('api_definition', sa.LargeBinary(), nullable=True),
        sa.Column('api_properties', sa.LargeBinary(), nullable=True),
        sa.Column('icon', sa.LargeBinary(), nullable=True),
        sa.Column('script', sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(['connector_id'], ['connectors.id'], name=op.f('fk_connector_revisions_connector_id_connectors'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('connector_id', 'number', name=op.f('pk_connector_revisions')),
    )
    op.execute(sa.text(
        "INSERT INTO connector_revisions (connector_id, number, source, created_by, created_at) "
        "SELECT id, revision, 'migrated', owner_id, updated_at FROM connectors"
    ))


def downgrade() -> None:
    op.drop_table('connector_revisions')
