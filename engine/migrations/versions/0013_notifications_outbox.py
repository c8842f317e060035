"""notifications: the outbox, groups' webhooks, people's notification settings, deadline alert marks

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 01:00:00.000000

`notifications` is the outbox the engine writes in the transaction of the change that causes a
message, and the dispatcher claims, sends and marks (issue 15). `webhook_endpoints` are the chat
robots admins set per group; `notification_settings` a user's addresses and channels;
`group_notification_defaults` a group's channels for members who chose none. Deadlines remember
when their reminder and breach were told, so the sweep tells each once.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('notifications',
    sa.Column('notification_id', sa.Uuid(), nullable=False),
    sa.Column('event_kind', sa.String(length=32), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('recipient', sa.String(length=64), nullable=True),
    sa.Column('group_id', sa.String(length=64), nullable=True),
    sa.Column('target', sa.String(length=500), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=True),
    sa.Column('instance_id', sa.Uuid(), nullable=True),
    sa.Column('task_id', sa.Uuid(), nullable=True),
    sa.Column('context', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('subject', sa.Text(), nullable=True),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('notification_id', name=op.f('pk_notifications'))
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notifications_instance_id'), ['instance_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notifications_recipient_channel_status'), ['recipient', 'channel', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_notifications_status_next_attempt_at'), ['status', 'next_attempt_at'], unique=False)

    op.create_table('group_notification_defaults',
    sa.Column('group_id', sa.String(length=64), nullable=False),
    sa.Column('channels', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['groups.group_id'], name=op.f('fk_group_notification_defaults_group_id_groups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('group_id', name=op.f('pk_group_notification_defaults'))
    )
    op.create_table('notification_settings',
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('language', sa.String(length=8), nullable=True),
    sa.Column('channels', sa.JSON(), nullable=False),
    sa.Column('quiet_hours', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['username'], ['users.username'], name=op.f('fk_notification_settings_username_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('username', name=op.f('pk_notification_settings'))
    )
    op.create_table('webhook_endpoints',
    sa.Column('endpoint_id', sa.Uuid(), nullable=False),
    sa.Column('group_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('secret', sa.String(length=200), nullable=True),
    sa.Column('outlet_code', sa.String(length=200), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['groups.group_id'], name=op.f('fk_webhook_endpoints_group_id_groups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('endpoint_id', name=op.f('pk_webhook_endpoints'))
    )
    with op.batch_alter_table('webhook_endpoints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_endpoints_group_id'), ['group_id'], unique=False)

    with op.batch_alter_table('deadlines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('breach_notified_at', sa.DateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('deadlines', schema=None) as batch_op:
        batch_op.drop_column('breach_notified_at')
        batch_op.drop_column('reminded_at')

    with op.batch_alter_table('webhook_endpoints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_endpoints_group_id'))

    op.drop_table('webhook_endpoints')
    op.drop_table('notification_settings')
    op.drop_table('group_notification_defaults')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notifications_status_next_attempt_at'))
        batch_op.drop_index(batch_op.f('ix_notifications_recipient_channel_status'))
        batch_op.drop_index(batch_op.f('ix_notifications_instance_id'))

    op.drop_table('notifications')
