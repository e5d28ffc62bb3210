"""the delivery's shape kept on a webhook subscription; finished jobs' index (issue 17)

Revision ID: 0019_trigger_notification
Revises: 0018_trigger_queue

``trigger_subscriptions.notification``: the trigger operation's
``x-ms-notification-content`` (its dynamic schema resolved when it has one), as JSON,
written when the subscription is recorded and again when it is subscribed, so a callback
does not read the connector's definition. NULL (rows from before): the callback reads it
from the definition as it did.

``ix_trigger_jobs_state_finished``: the workers' hourly deletion of finished jobs past
``CONNECTORHUB_JOB_RETENTION_DAYS``.
"""
import sqlalchemy as sa
from alembic import op

revision = '0019_trigger_notification'
down_revision = '0018_trigger_queue'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('trigger_subscriptions') as batch:
        batch.add_column(sa.Column('notification', sa.Text(), nullable=True))
    op.create_index('ix_trigger_jobs_state_finished', 'trigger_jobs', ['state', 'finished_at'])


def downgrade() -> None:
    op.drop_index('ix_trigger_jobs_state_finished', table_name='trigger_jobs')
    with op.batch_alter_table('trigger_subscriptions') as batch:
        batch.drop_column('notification')
