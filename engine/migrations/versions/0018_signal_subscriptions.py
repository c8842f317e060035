"""signal subscriptions: the signal catch and boundary events instances wait on

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 05:00:00.000000

`POST /api/signals` and a signal thrown inside a case broadcast to every waiting signal event: this
table finds them by the signal's name without loading every running workflow.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'signal_subscriptions',
        sa.Column('task_id', sa.Uuid(), nullable=False),
        sa.Column('instance_id', sa.Uuid(), nullable=False),
        sa.Column('signal_name', sa.String(length=200), nullable=False),
        sa.Column('element_id', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['instance_id'], ['instances.instance_id'],
                                name=op.f('fk_signal_subscriptions_instance_id_instances'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('task_id', name=op.f('pk_signal_subscriptions')),
    )
    op.create_index(op.f('ix_signal_subscriptions_signal_name'), 'signal_subscriptions', ['signal_name'], unique=False)
    op.create_index(op.f('ix_signal_subscriptions_instance_id'), 'signal_subscriptions', ['instance_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_signal_subscriptions_instance_id'), table_name='signal_subscriptions')
    op.drop_index(op.f('ix_signal_subscriptions_signal_name'), table_name='signal_subscriptions')
    op.drop_table('signal_subscriptions')
