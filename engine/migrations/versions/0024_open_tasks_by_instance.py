"""a case's tasks by status: the step's and the case page's open-task reads probe the open rows only

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-03 09:00:00.000000

Every step reads its case's open tasks (and those the workflow made ready), and the case page its
open tasks. Both walked ix_tasks_instance_id, which holds one row per task the case ever had: a case
that loops (a task sent back, a repeated review) read a row per round at every step, the long case's
growth from iteration 10 to 1,000 (issue 18). On SQLite the case page's read even took the status
index, reading every open task of every case. (instance_id, status, created_at, task_id) serves
both reads, in the page's order, and every read by case alone, so it replaces the old index.
"""

from __future__ import annotations

from alembic import op

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tasks_instance_id_status_created_at_task_id'),
                              ['instance_id', 'status', 'created_at', 'task_id'], unique=False)
        batch_op.drop_index(batch_op.f('ix_tasks_instance_id'))


def downgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tasks_instance_id'), ['instance_id'], unique=False)
        batch_op.drop_index(batch_op.f('ix_tasks_instance_id_status_created_at_task_id'))
