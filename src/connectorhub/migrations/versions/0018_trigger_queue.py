"""connector triggers and the durable run queue (issue 17)

Revision ID: 0018_trigger_queue
Revises: 0016_connector_listing

The queue of runs and trigger calls (``trigger_jobs``), the subscriptions of webhook and
polling triggers (``trigger_subscriptions``), and on each run its job and attempt.
"""
import sqlalchemy as sa
from alembic import op

from connectorhub.db import UtcDateTime

revision = '0018_trigger_queue'
down_revision = '0016_connector_listing'
branch_labels = None
depends_on = '0006'  # the table it changes (asset_runs), on another branch of the history


def upgrade() -> None:
    op.create_table(
        'trigger_jobs',
        sa.Column('id', sa.String(length=40), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('asset_id', sa.String(length=40), nullable=False),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('payload', sa.Text(), nullable=False),
        sa.Column('dedupe_key', sa.String(length=80), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('max_attempts', sa.Integer(), nullable=False),
        sa.Column('available_at', UtcDateTime(timezone=True), nullable=False),
        sa.Column('lease_until', UtcDateTime(timezone=True), nullable=True),
        sa.Column('worker', sa.String(length=100), nullable=True),
        sa.Column('history', sa.Text(), nullable=False),
        sa.Column('error', sa.Text(), nullable=False),
        sa.Column('created_at', UtcDateTime(timezone=True), nullable=False),
        sa.Column('finished_at', UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_trigger_jobs')),
        sa.UniqueConstraint('asset_id', 'dedupe_key', name=op.f('uq_trigger_jobs_asset_id')),
    )
    op.create_index(op.f('ix_trigger_jobs_asset_id'), 'trigger_jobs', ['asset_id'])
    op.create_index('ix_trigger_jobs_state_available', 'trigger_jobs', ['state', 'available_at'])
    op.create_table(
        'trigger_subscriptions',
        sa.Column('asset_id', sa.String(length=40), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('state', sa.String(length=20), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=True),
        sa.Column('location', sa.Text(), nullable=True),
        sa.Column('expires_at', UtcDateTime(timezone=True), nullable=True),
        sa.Column('next_at', UtcDateTime(timezone=True), nullable=True),
        sa.Column('interval_seconds', sa.Integer(), nullable=True),
        sa.Column('state_data', sa.Text(), nullable=False),
        sa.Column('error', sa.Text(), nullable=False),
        sa.Column('updated_at', UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('asset_id', name=op.f('pk_trigger_subscriptions')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_trigger_subscriptions_token_hash')),
    )
    op.create_index('ix_trigger_subscriptions_kind_due', 'trigger_subscriptions', ['kind', 'next_at'])
    with op.batch_alter_table('asset_runs') as batch:
        batch.add_column(sa.Column('job_id', sa.String(length=40), nullable=True))
        batch.add_column(sa.Column('attempt', sa.Integer(), nullable=True))
        batch.create_index(op.f('ix_asset_runs_job_id'), ['job_id'])
    with op.batch_alter_table('assets') as batch:
        batch.add_column(sa.Column('disabled_at', UtcDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('assets') as batch:
        batch.drop_column('disabled_at')
    with op.batch_alter_table('asset_runs') as batch:
        batch.drop_index(op.f('ix_asset_runs_job_id'))
        batch.drop_column('attempt')
        batch.drop_column('job_id')
    op.drop_index('ix_trigger_subscriptions_kind_due', table_name='trigger_subscriptions')
    op.drop_table('trigger_subscriptions')
    op.drop_index('ix_trigger_jobs_state_available', table_name='trigger_jobs')
    op.drop_index(op.f('ix_trigger_jobs_asset_id'), table_name='trigger_jobs')
    op.drop_table('trigger_jobs')
