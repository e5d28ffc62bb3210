"""access tokens may expire (portal sign-in sessions)

Revision ID: 0010
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

from connectorhub.db import UtcDateTime

revision = '0010'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('access_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', UtcDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('access_tokens', schema=None) as batch_op:
        batch_op.drop_column('expires_at')
