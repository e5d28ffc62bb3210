"""environment variables (R6)

Revision ID: 0007
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

from connectorhub.db import UtcDateTime

revision = '0007'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'environment_variables',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('org_id', sa.String(length=40), nullable=False),
        sa.Column('environment_id', sa.String(length=40), nullable=False),
        sa.Column('schema_name', sa.String(length=200), nullable=False),
        sa.Column('display_name', sa.String(length=300), nullable=False),
        sa.Column('type', sa.String(length=10), nullable=False),
        sa.Column('default_value', sa.Text(), nullable=True),
        sa.Column('value', sa.Text(), nullable=True),
        sa.Column('owner_id', sa.String(length=40), nullable=False),
        sa.Column('created_at', UtcDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['environment_id'], ['environments.id'], name=op.f('fk_environment_variables_environment_id_environments'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_environment_variables_org_id_organizations')),
        sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_environment_variables_owner_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_environment_variables')),
        sa.UniqueConstraint('environment_id', 'schema_name', name=op.f('uq_environment_variables_environment_id')),
    )
    with op.batch_alter_table('environment_variables', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_environment_variables_org_id'), ['org_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('environment_variables', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_environment_variables_org_id'))
    op.drop_table('environment_variables')
