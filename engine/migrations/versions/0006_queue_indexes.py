"""queue indexes: tasks by due date, and tasks delegated by a user

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 16:00:00.000000

The queue query runs each route into a queue (candidate group, assignee, owner) as its own
branch; with these indexes every branch walks an index in queue order and stops after a page
(bench/queues.py: 1 M open tasks).
"""

from __future__ import annotations

from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.create_index('ix_tasks_status_due_at_created_at', ['status', 'due_at', 'created_at'], unique=False)
        batch_op.create_index('ix_tasks_owner_status', ['owner', 'status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_tasks_owner_status')
        batch_op.drop_index('ix_tasks_status_due_at_created_at')
