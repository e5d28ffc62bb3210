"""identity: portal sessions as their own credential, sign-in throttling, who minted a token

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

from connectorhub.db import UtcDateTime

revision = '0012'
down_revision = '0011'
branch_labels = None
# The update below reads access_tokens.expires_at, added by 0010 on a parallel branch.
depends_on = '0010'


def upgrade() -> None:
    with op.batch_alter_table('access_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('created_by_id', sa.String(length=40), nullable=True))
    op.create_table(
        'portal_sessions',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('user_id', sa.String(length=40), nullable=False),
        sa.Column('secret_hash', sa.String(length=64), nullable=False),
        sa.Column('method', sa.String(length=16), nullable=False),
        sa.Column('token_id', sa.String(length=40), nullable=True),
        sa.Column('created_at', UtcDateTime(), nullable=False),
        sa.Column('expires_at', UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['token_id'], ['access_tokens.id'], name=op.f('fk_portal_sessions_token_id_access_tokens'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_portal_sessions_user_id_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_sessions')),
        sa.UniqueConstraint('secret_hash', name=op.f('uq_portal_sessions_secret_hash')),
    )
    op.create_index(op.f('ix_portal_sessions_user_id'), 'portal_sessions', ['user_id'], unique=False)
    op.create_index(op.f('ix_portal_sessions_token_id'), 'portal_sessions', ['token_id'], unique=False)
    op.create_table(
        'sign_in_throttle',
        sa.Column('key', sa.String(length=80), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('last_failure_at', UtcDateTime(), nullable=True),
        sa.Column('blocked_until', UtcDateTime(), nullable=True),
        sa.Column('known_until', UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_sign_in_throttle')),
    )
    op.create_index(op.f('ix_sign_in_throttle_last_failure_at'), 'sign_in_throttle', ['last_failure_at'], unique=False)
    # Portal sign-ins used to be access tokens that the REST API accepted (a stolen cookie
    # minted tokens); end them: users sign in to the portal again.
    tokens = sa.table('access_tokens', sa.column('name', sa.String), sa.column('expires_at', UtcDateTime()), sa.column('revoked', sa.Boolean))
    op.execute(
        tokens.update()
        .where(tokens.c.name == 'portal sign-in', tokens.c.expires_at.is_not(None))
        .values(revoked=True)
    )


def downgrade() -> None:
    op.drop_index(op.f('ix_sign_in_throttle_last_failure_at'), table_name='sign_in_throttle')
    op.drop_table('sign_in_throttle')
    op.drop_index(op.f('ix_portal_sessions_token_id'), table_name='portal_sessions')
    op.drop_index(op.f('ix_portal_sessions_user_id'), table_name='portal_sessions')
    op.drop_table('portal_sessions')
    with op.batch_alter_table('access_tokens', schema=None) as batch_op:
        batch_op.drop_column('created_by_id')
