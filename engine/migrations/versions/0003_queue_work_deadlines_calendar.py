"""queue work, promoted case fields, deadlines, business calendar

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 13:48:25.128915
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('calendar_days',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_calendar_days'))
    )
    op.create_table('deadlines',
    sa.Column('deadline_id', sa.Uuid(), nullable=False),
    sa.Column('instance_id', sa.Uuid(), nullable=False),
    sa.Column('task_id', sa.Uuid(), nullable=True),
    sa.Column('process_key', sa.String(length=200), nullable=False),
    sa.Column('element_id', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('calendar', sa.String(length=16), nullable=False),
    sa.Column('duration', sa.String(length=64), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('paused_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('met_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['instance_id'], ['instances.instance_id'], name=op.f('fk_deadlines_instance_id_instances'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('deadline_id', name=op.f('pk_deadlines'))
    )
    with op.batch_alter_table('deadlines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deadlines_instance_id'), ['instance_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_deadlines_process_key_started_at'), ['process_key', 'started_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_deadlines_status_due_at'), ['status', 'due_at'], unique=False)

    op.create_table('task_comments',
    sa.Column('comment_id', sa.Uuid(), nullable=False),
    sa.Column('task_id', sa.Uuid(), nullable=False),
    sa.Column('instance_id', sa.Uuid(), nullable=False),
    sa.Column('author', sa.String(length=64), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.task_id'], name=op.f('fk_task_comments_task_id_tasks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('comment_id', name=op.f('pk_task_comments'))
    )
    with op.batch_alter_table('task_comments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_task_comments_task_id_created_at'), ['task_id', 'created_at'], unique=False)

    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('region', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('outlet_code', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('customer_name', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('serial_number', sa.String(length=200), nullable=True))
        batch_op.create_index(batch_op.f('ix_instances_customer_name'), ['customer_name'], unique=False)
        batch_op.create_index(batch_op.f('ix_instances_outlet_code'), ['outlet_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_instances_region'), ['region'], unique=False)
        batch_op.create_index(batch_op.f('ix_instances_serial_number'), ['serial_number'], unique=False)

    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('priority', sa.Integer(), nullable=False, server_default='50'))
        batch_op.add_column(sa.Column('follow_up_at', sa.DateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_column('follow_up_at')
        batch_op.drop_column('priority')
        batch_op.drop_column('owner')

    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_instances_serial_number'))
        batch_op.drop_index(batch_op.f('ix_instances_region'))
        batch_op.drop_index(batch_op.f('ix_instances_outlet_code'))
        batch_op.drop_index(batch_op.f('ix_instances_customer_name'))
        batch_op.drop_column('serial_number')
        batch_op.drop_column('customer_name')
        batch_op.drop_column('outlet_code')
        batch_op.drop_column('region')

    with op.batch_alter_table('task_comments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_task_comments_task_id_created_at'))

    op.drop_table('task_comments')
    with op.batch_alter_table('deadlines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deadlines_status_due_at'))
        batch_op.drop_index(batch_op.f('ix_deadlines_process_key_started_at'))
        batch_op.drop_index(batch_op.f('ix_deadlines_instance_id'))

    op.drop_table('deadlines')
    op.drop_table('calendar_days')
