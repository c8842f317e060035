"""spilled workflow state: chunks of finished tasks, and a revision for cached workflows

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 19:00:00.000000

A case that loops keeps every task it ever ran; writing all of them at every step made each step
slower than the last. Finished tasks now go, once, into `instance_state_chunks`, and the
instance's `state` keeps the rest. `state_revision` changes at every write of the state, so a
server can keep a loaded workflow in memory and know when another server has moved it on.
Existing instances need no conversion: a state without chunks loads as before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from engine.bpmn.serialization import CHUNKS_KEY, merge_chunks

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('state_revision', sa.Uuid(), nullable=True))
    op.create_table(
        'instance_state_chunks',
        sa.Column('instance_id', sa.Uuid(), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('tasks', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['instance_id'], ['instances.instance_id'],
                                name=op.f('fk_instance_state_chunks_instance_id_instances'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('instance_id', 'seq', name=op.f('pk_instance_state_chunks')),
    )


def downgrade() -> None:
    # Earlier releases keep every task in the instance's state: put the spilled tasks back first.
    bind = op.get_bind()
    instances = sa.table('instances', sa.column('instance_id', sa.Uuid()), sa.column('state', sa.JSON()))
    chunks = sa.table('instance_state_chunks', sa.column('instance_id', sa.Uuid()), sa.column('seq', sa.Integer()),
                      sa.column('tasks', sa.JSON()))
    spilled = bind.execute(sa.select(chunks.c.instance_id).distinct()).scalars().all()
    for instance_id in spilled:
        state = bind.execute(sa.select(instances.c.state).where(instances.c.instance_id == instance_id)).scalar_one()
        rows = bind.execute(sa.select(chunks.c.tasks).where(chunks.c.instance_id == instance_id)
                            .order_by(chunks.c.seq)).scalars().all()
        merge_chunks(state, rows)
        state.pop(CHUNKS_KEY, None)
        bind.execute(instances.update().where(instances.c.instance_id == instance_id).values(state=state))
    op.drop_table('instance_state_chunks')
    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.drop_column('state_revision')
