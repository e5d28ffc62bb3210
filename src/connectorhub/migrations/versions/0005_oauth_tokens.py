"""oauth tokens and sign-in states (R2)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 09:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

import connectorhub.db

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('oauth_tokens',
    sa.Column('connection_id', sa.String(length=40), nullable=False),
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('token_type', sa.String(length=40), nullable=False),
    sa.Column('issued_at', connectorhub.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', connectorhub.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('has_refresh_token', sa.Boolean(), nullable=False),
    sa.Column('refreshing_until', connectorhub.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('refresh_owner', sa.String(length=64), nullable=True),
    sa.Column('refresh_failed_at', connectorhub.db.UtcDateTime(timezone=True), nullable=True),
    sa.Column('refresh_error', sa.String(length=1000), nullable=False),
    sa.Column('updated_at', connectorhub.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['connection_id'], ['connections.id'], name=op.f('fk_oauth_tokens_connection_id_connections'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('connection_id', name=op.f('pk_oauth_tokens'))
    )
    op.create_table('oauth_sign_in_states',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('connection_id', sa.String(length=40), nullable=False),
    sa.Column('user_id', sa.String(length=40), nullable=False),
    sa.Column('redirect_uri', sa.Text(), nullable=False),
    sa.Column('code_verifier', sa.String(length=128), nullable=False),
    sa.Column('created_at', connectorhub.db.UtcDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', connectorhub.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['connection_id'], ['connections.id'], name=op.f('fk_oauth_sign_in_states_connection_id_connections'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_oauth_sign_in_states_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oauth_sign_in_states'))
    )
    with op.batch_alter_table('oauth_sign_in_states', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oauth_sign_in_states_connection_id'), ['connection_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_oauth_sign_in_states_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('oauth_sign_in_states', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oauth_sign_in_states_expires_at'))
        batch_op.drop_index(batch_op.f('ix_oauth_sign_in_states_connection_id'))
    op.drop_table('oauth_sign_in_states')
    op.drop_table('oauth_tokens')
