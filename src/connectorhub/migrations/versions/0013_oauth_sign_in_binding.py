"""oauth sign-ins are bound to the browser that started them (R2)

Revision ID: 0013
Revises: 0011 (needs 0005, which made the table)

Pending sign-ins made before this revision hold a plain PKCE verifier and no binding:
they are deleted (each lived ten minutes at most; the user starts again).
"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0011'
branch_labels = None
depends_on = '0005'  # the table it changes


def upgrade() -> None:
    op.execute(sa.text('DELETE FROM oauth_sign_in_states'))
    with op.batch_alter_table('oauth_sign_in_states', schema=None) as batch_op:
        batch_op.add_column(sa.Column('binding_hash', sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.execute(sa.text('DELETE FROM oauth_sign_in_states'))
    with op.batch_alter_table('oauth_sign_in_states', schema=None) as batch_op:
        batch_op.drop_column('binding_hash')
