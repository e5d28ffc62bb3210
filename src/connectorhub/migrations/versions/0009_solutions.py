"""solutions, solution components, connection references; slots bound to a reference (S1-S4)

Revision ID: 0009
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

from connectorhub.db import UtcDateTime

revision = '0009'
down_revision = '0004'
branch_labels = None
# The slot column needs asset_slots (0006). (Listing 0007 as well trips Alembic's head
# bookkeeping with sibling branches; no table here needs it.)
depends_on = '0006'


def upgrade() -> None:
    op.create_table(
        'solutions',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('org_id', sa.String(length=40), nullable=False),
        sa.Column('environment_id', sa.String(length=40), nullable=False),
        sa.Column('unique_name', sa.String(length=200), nullable=False),
        sa.Column('display_name', sa.String(length=300), nullable=False),
        sa.Column('version', sa.String(length=50), nullable=False),
        sa.Column('publisher', sa.String(length=200), nullable=False),
        sa.Column('prefix', sa.String(length=20), nullable=False),
        sa.Column('managed', sa.Boolean(), nullable=False),
        sa.Column('owner_id', sa.String(length=40), nullable=False),
        sa.Column('created_at', UtcDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['environment_id'], ['environments.id'], name=op.f('fk_solutions_environment_id_environments'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_solutions_org_id_organizations')),
        sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_solutions_owner_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_solutions')),
        sa.UniqueConstraint('environment_id', 'unique_name', name=op.f('uq_solutions_environment_id')),
    )
    with op.batch_alter_table('solutions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_solutions_org_id'), ['org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_solutions_owner_id'), ['owner_id'], unique=False)

    op.create_table(
        'solution_components',
        sa.Column('solution_id', sa.String(length=40), nullable=False),
        sa.Column('component_kind', sa.String(length=30), nullable=False),
        sa.Column('component_id', sa.String(length=40), nullable=False),
        sa.Column('source_id', sa.String(length=40), nullable=True),
        sa.Column('created_at', UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['solution_id'], ['solutions.id'], name=op.f('fk_solution_components_solution_id_solutions'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('solution_id', 'component_kind', 'component_id', name=op.f('pk_solution_components')),
    )
    with op.batch_alter_table('solution_components', schema=None) as batch_op:
        batch_op.create_index('ix_solution_components_kind_component', ['component_kind', 'component_id'], unique=False)

    op.create_table(
        'connection_references',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('org_id', sa.String(length=40), nullable=False),
        sa.Column('environment_id', sa.String(length=40), nullable=False),
        sa.Column('logical_name', sa.String(length=200), nullable=False),
        sa.Column('display_name', sa.String(length=300), nullable=False),
        sa.Column('connector_id', sa.String(length=40), nullable=False),
        sa.Column('connection_id', sa.String(length=40), nullable=True),
        sa.Column('solution_id', sa.String(length=40), nullable=True),
        sa.Column('created_at', UtcDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['environment_id'], ['environments.id'], name=op.f('fk_connection_references_environment_id_environments'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_connection_references_org_id_organizations')),
        sa.ForeignKeyConstraint(['solution_id'], ['solutions.id'], name=op.f('fk_connection_references_solution_id_solutions'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_connection_references')),
        sa.UniqueConstraint('environment_id', 'logical_name', name=op.f('uq_connection_references_environment_id')),
    )
    with op.batch_alter_table('connection_references', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_connection_references_org_id'), ['org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_connection_references_connector_id'), ['connector_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_connection_references_connection_id'), ['connection_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_connection_references_solution_id'), ['solution_id'], unique=False)

    with op.batch_alter_table('asset_slots', schema=None) as batch_op:
        batch_op.add_column(sa.Column('connection_reference_id', sa.String(length=40), nullable=True))
        batch_op.create_index(batch_op.f('ix_asset_slots_connection_reference_id'), ['connection_reference_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('asset_slots', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_asset_slots_connection_reference_id'))
        batch_op.drop_column('connection_reference_id')
    op.drop_table('connection_references')
    op.drop_table('solution_components')
    op.drop_table('solutions')
