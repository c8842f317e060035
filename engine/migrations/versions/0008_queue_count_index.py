"""queue count index: open tasks by id, so the capped count reads no table rows

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 19:00:00.000000

A queue's count (capped at 1,001) merge-joins its groups' `task_candidate_groups` entries with the
open tasks in `task_id` order. Through `pk_tasks` each task's row was read for its status: 8,900
buffers and about 10 ms at 1 M open tasks (bench/queues.py --explain); on `(status, task_id)` the
join is index-only: 60 buffers, 1.4 ms.
"""

from __future__ import annotations

from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.create_index('ix_tasks_status_task_id', ['status', 'task_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_tasks_status_task_id')
