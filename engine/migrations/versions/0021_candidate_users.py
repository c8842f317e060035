"""task candidate users: the people a task is offered to by name (camunda:candidateUsers)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02 12:40:00.000000

Beside `task_candidate_groups`, shaped the same way: a queue's candidate-user route is an EXISTS on
(username, task_id), answered from the index alone.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'task_candidate_users',
        sa.Column('task_id', sa.Uuid(), nullable=False),
        sa.Column('username', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(['task_id'], ['tasks.task_id'], name=op.f('fk_task_candidate_users_task_id_tasks'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('task_id', 'username', name=op.f('pk_task_candidate_users')),
    )
    with op.batch_alter_table('task_candidate_users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_task_candidate_users_username_task_id'), ['username', 'task_id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('task_candidate_users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_task_candidate_users_username_task_id'))
    op.drop_table('task_candidate_users')
