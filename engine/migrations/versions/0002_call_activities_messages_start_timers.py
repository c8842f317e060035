"""call activities, messages, start timers

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 13:25:11.287578
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('start_timers',
    sa.Column('start_timer_id', sa.Uuid(), nullable=False),
    sa.Column('definition_key', sa.String(length=200), nullable=False),
    sa.Column('element_id', sa.String(length=200), nullable=False),
    sa.Column('expression', sa.String(length=200), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('fired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('instance_id', sa.Uuid(), nullable=True),
    sa.PrimaryKeyConstraint('start_timer_id', name=op.f('pk_start_timers'))
    )
    with op.batch_alter_table('start_timers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_start_timers_status_due_at'), ['status', 'due_at'], unique=False)

    op.create_table('message_subscriptions',
    sa.Column('task_id', sa.Uuid(), nullable=False),
    sa.Column('instance_id', sa.Uuid(), nullable=False),
    sa.Column('message_name', sa.String(length=200), nullable=False),
    sa.Column('element_id', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['instance_id'], ['instances.instance_id'], name=op.f('fk_message_subscriptions_instance_id_instances'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('task_id', name=op.f('pk_message_subscriptions'))
    )
    with op.batch_alter_table('message_subscriptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_message_subscriptions_message_name'), ['message_name'], unique=False)

    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('called_definitions', sa.JSON(), nullable=False, server_default='{}'))

    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('process_key', sa.String(length=200), nullable=False, server_default=''))

    # Tasks created before call activities belong to their instance's own process.
    op.execute(
        "UPDATE tasks SET process_key = "
        "(SELECT definition_key FROM instances WHERE instances.instance_id = tasks.instance_id)"
    )



def downgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_column('process_key')

    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.drop_column('called_definitions')

    with op.batch_alter_table('message_subscriptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_message_subscriptions_message_name'))

    op.drop_table('message_subscriptions')
    with op.batch_alter_table('start_timers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_start_timers_status_due_at'))

    op.drop_table('start_timers')
