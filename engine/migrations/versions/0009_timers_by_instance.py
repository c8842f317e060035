"""timers by instance: an index on timers.instance_id

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 19:00:00.000000

Every save of an instance with timer events reads its pending timers (`WHERE instance_id = ? AND status = 'pending'`),
and the timer tick reads the due timers of the batch it claimed. Without this index both scanned
the whole table, which only grows (fired timers stay as history): 1.3 ms a save at 20 k timer rows
(bench/timers.py), where the index lookup takes a few microseconds.
"""

from __future__ import annotations

from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('timers', schema=None) as batch_op:
        batch_op.create_index('ix_timers_instance_id', ['instance_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('timers', schema=None) as batch_op:
        batch_op.drop_index('ix_timers_instance_id')
