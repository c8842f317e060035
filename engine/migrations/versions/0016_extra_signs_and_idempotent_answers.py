"""extra signs (加签) and idempotent answers

`extra_signs`: a one-off extra approval by a named colleague on one task (engine/extra_signs.py).
`idempotent_answers`: the first answer to a start or completion sent with an Idempotency-Key.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 05:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
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
    op.create_table('idempotent_answers',
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=False),
    sa.Column('body', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('username', 'key', name=op.f('pk_idempotent_answers'))
    )
    with op.batch_alter_table('idempotent_answers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_idempotent_answers_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    op.drop_table('idempotent_answers')
    op.drop_table('extra_signs')
