"""certification workflow (O1)

Revision ID: 0015_certification
Revises: 0014_connector_revisions

Two new tables: the submissions (with the snapshot of the submitted files, the readme,
the findings and the review) and the users named certification reviewers.
"""
import sqlalchemy as sa
from alembic import op

from connectorhub.db import UtcDateTime

revision = '0015_certification'
down_revision = '0014_connector_revisions'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'certification_submissions',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('org_id', sa.String(length=40), nullable=False),
        sa.Column('environment_id', sa.String(length=40), nullable=False),
        sa.Column('connector_id', sa.String(length=40), nullable=False),
        sa.Column('connector_revision', sa.Integer(), nullable=False),
        sa.Column('title', sa.String(length=500), nullable=False),
        sa.Column('tier', sa.String(length=20), nullable=False),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('submitted_by', sa.String(length=40), nullable=False),
        sa.Column('findings', sa.Text(), nullable=False),
        sa.Column('readme', sa.Text(), nullable=False),
        sa.Column('api_definition', sa.Text(), nullable=False),
        sa.Column('api_properties', sa.Text(), nullable=True),
        sa.Column('icon', sa.LargeBinary(), nullable=True),
        sa.Column('script', sa.LargeBinary(), nullable=True),
        sa.Column('reviewed_by', sa.String(length=40), nullable=True),
        sa.Column('review_note', sa.Text(), nullable=True),
        sa.Column('reviewed_at', UtcDateTime(timezone=True), nullable=True),
        sa.Column('public_connector_id', sa.String(length=40), nullable=True),
        sa.Column('public_version', sa.Integer(), nullable=True),
        sa.Column('created_at', UtcDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['org_id'], ['organizations.id'], name=op.f('fk_certification_submissions_org_id_organizations')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_certification_submissions')),
    )
    op.create_index(op.f('ix_certification_submissions_org_id'), 'certification_submissions', ['org_id'])
    op.create_index(op.f('ix_certification_submissions_state'), 'certification_submissions', ['state'])
    op.create_index(op.f('ix_certification_submissions_submitted_by'), 'certification_submissions', ['submitted_by'])
    op.create_index('ix_certification_submissions_connector_state', 'certification_submissions', ['connector_id', 'state'])
    op.create_table(
        'certification_reviewers',
        sa.Column('user_id', sa.String(length=40), nullable=False),
        sa.Column('added_by', sa.String(length=40), nullable=True),
        sa.Column('added_at', UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_certification_reviewers_user_id_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id', name=op.f('pk_certification_reviewers')),
    )


def downgrade() -> None:
    op.drop_table('certification_reviewers')
    op.drop_index('ix_certification_submissions_connector_state', table_name='certification_submissions')
    op.drop_index(op.f('ix_certification_submissions_submitted_by'), table_name='certification_submissions')
    op.drop_index(op.f('ix_certification_submissions_state'), table_name='certification_submissions')
    op.drop_index(op.f('ix_certification_submissions_org_id'), table_name='certification_submissions')
    op.drop_table('certification_submissions')
