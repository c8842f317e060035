"""own work lists and case numbers: a person's completed tasks and started cases, by index; counters


Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 01:30:00.000000

已办 (tasks I completed) and 我发起的 (cases I started) are read, and counted up to 1,001, on every
page's navigation: without these indexes each count reads the whole tasks or instances table.
Case numbers (TS-2026-000123) are counted per prefix and year in `case_number_counters`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'case_number_counters',
        sa.Column('prefix', sa.String(length=32), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('last_value', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('prefix', 'year', name=op.f('pk_case_number_counters')),
    )
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.create_index('ix_tasks_completed_by_completed_at', ['completed_by', 'completed_at'], unique=False)
    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.create_index('ix_instances_started_by_started_at', ['started_by', 'started_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.drop_index('ix_instances_started_by_started_at')
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_tasks_completed_by_completed_at')
    op.drop_table('case_number_counters')
