"""open tasks by assignee and by owner: partial indexes for a queue's assigned-to-me and delegated-by-me routes

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 05:00:00.000000

The assigned-to-me branch of a queue is `status = 'open' AND assignee = :me ORDER BY created_at`.
Once a person has completed many tasks (any real deployment), PostgreSQL estimates that
`assignee = :me` matches all of them and walks `ix_tasks_status_created_at` instead, reading every
open task: 50 ms and 2,354 buffers at 100 k open tasks and 25 k completed by one person, against
0.05 ms and 13 buffers on the partial index (issue 18, measured on this machine). The owner route
(delegated by me) has the same shape.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

OPEN = sa.text("status = 'open'")


def upgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        for column in ('assignee', 'owner'):
            batch_op.create_index(f'ix_tasks_open_by_{column}', [column, 'created_at', 'task_id'], unique=False,
                                  postgresql_where=OPEN, sqlite_where=OPEN)


def downgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        for column in ('assignee', 'owner'):
            batch_op.drop_index(f'ix_tasks_open_by_{column}')
