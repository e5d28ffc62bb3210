"""apps and flows: assets, slots, shares, bindings, runs (F1-F3, A7, A8)

Revision ID: 0006
Revises: 0004
Create Date: 2026-11-28 10:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

import connectorhub.db

revision = '0006'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('assets',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('org_id', sa.String(length=40), nullable=False),
    sa.Column('environment_id', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('owner_id', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('definition', sa.Text(), nullable=False),
    sa.Column('trigger_type', sa.String(length=20), nullable=True),
    sa.Column('interval_seconds', sa.Integer(), nullable=True),
    sa.Column('anchor_at', connectorhub.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('next_due_at', connectorhub.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('created_at', connectorhub.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', connectorhub.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['environment_id'], ['environments.id'], name=op.f('fk_assets_environment_id_environments')),
    sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_assets_org_id_organizations')),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_assets_owner_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assets'))
    )
    with op.batch_alter_table('assets', schema=None) as batch_op:
        batch_op.create_index('ix_assets_environment_kind_id', ['environment_id', 'kind', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_assets_org_id'), ['org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_assets_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index('ix_assets_trigger_due', ['trigger_type', 'next_due_at'], unique=False)

    op.create_table('asset_slots',
    sa.Column('asset_id', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('connector_id', sa.String(length=40), nullable=False),
    sa.Column('connection_id', sa.String(length=40), nullable=True),
    sa.Column('connection_name', sa.String(length=300), nullable=True),
    sa.ForeignKeyConstraint(['asset_id'], ['assets.id'], name=op.f('fk_asset_slots_asset_id_assets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('asset_id', 'name', name=op.f('pk_asset_slots'))
    )
    with op.batch_alter_table('asset_slots', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_asset_slots_connection_id'), ['connection_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_asset_slots_connector_id'), ['connector_id'], unique=False)

    op.create_table('asset_shares',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('asset_id', sa.String(length=40), nullable=False),
    sa.Column('principal_kind', sa.String(length=8), nullable=False),
    sa.Column('principal_id', sa.String(length=40), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('slot_modes', sa.Text(), nullable=False),
    sa.Column('granted_by', sa.String(length=40), nullable=True),
    sa.Column('created_at', connectorhub.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['assets.id'], name=op.f('fk_asset_shares_asset_id_assets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_asset_shares')),
    sa.UniqueConstraint('asset_id', 'principal_kind', 'principal_id', name=op.f('uq_asset_shares_asset_id'))
    )
    with op.batch_alter_table('asset_shares', schema=None) as batch_op:
        batch_op.create_index('ix_asset_shares_principal', ['principal_kind', 'principal_id', 'asset_id'], unique=False)

    op.create_table('asset_bindings',
    sa.Column('asset_id', sa.String(length=40), nullable=False),
    sa.Column('slot', sa.String(length=100), nullable=False),
    sa.Column('user_id', sa.String(length=40), nullable=False),
    sa.Column('connection_id', sa.String(length=40), nullable=False),
    sa.Column('connection_name', sa.String(length=300), nullable=False),
    sa.Column('created_at', connectorhub.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['assets.id'], name=op.f('fk_asset_bindings_asset_id_assets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_asset_bindings_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('asset_id', 'slot', 'user_id', name=op.f('pk_asset_bindings'))
    )
    with op.batch_alter_table('asset_bindings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_asset_bindings_connection_id'), ['connection_id'], unique=False)

    op.create_table('asset_runs',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('asset_id', sa.String(length=40), nullable=False),
    sa.Column('actor_id', sa.String(length=40), nullable=False),
    sa.Column('trigger', sa.String(length=140), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('error_code', sa.String(length=80), nullable=False),
    sa.Column('inputs', sa.Text(), nullable=False),
    sa.Column('steps', sa.Text(), nullable=False),
    sa.Column('due_at', connectorhub.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('started_at', connectorhub.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', connectorhub.db.UtcDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['asset_id'], ['assets.id'], name=op.f('fk_asset_runs_asset_id_assets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_asset_runs')),
    sa.UniqueConstraint('asset_id', 'due_at', name=op.f('uq_asset_runs_asset_id'))
    )
    with op.batch_alter_table('asset_runs', schema=None) as batch_op:
        batch_op.create_index('ix_asset_runs_asset_id_id', ['asset_id', 'id'], unique=False)


def downgrade() -> None:
    op.drop_table('asset_runs')
    op.drop_table('asset_bindings')
    op.drop_table('asset_shares')
    op.drop_table('asset_slots')
    op.drop_table('assets')
