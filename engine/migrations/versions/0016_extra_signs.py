"""extra signs (加签): a one-off extra approval by a named colleague on one task

Revision ID: 0016
Revises: 0014
Create Date: 2026-12-02 05:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('extra_signs',
    sa.Column('sign_id', sa.Uuid(), nullable=False),
    sa.Column('instance_id', sa.Uuid(), nullable=False),
    sa.Column('task_id', sa.Uuid(), nullable=False),
    sa.Column('position', sa.String(length=8), nullable=False),
    sa.Column('signer', sa.String(length=64), nullable=False),
    sa.Column('requested_by', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('held_data', sa.JSON(), nullable=True),
    sa.Column('opinion', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['instance_id'], ['instances.instance_id'], name=op.f('fk_extra_signs_instance_id_instances'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('sign_id', name=op.f('pk_extra_signs'))
    )
    with op.batch_alter_table('extra_signs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_extra_signs_signer_status'), ['signer', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_extra_signs_task_id_status'), ['task_id', 'status'], unique=False)


def downgrade() -> None:
    op.drop_table('extra_signs')
