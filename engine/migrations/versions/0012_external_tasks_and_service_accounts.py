"""external tasks and service accounts: Camunda 7's external-task API for workers

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 01:10:00.000000

`external_tasks` mirrors the service tasks a workflow waits on for a worker (topic, lock, retries,
the error a worker reported); `service_accounts` are the workers' logins, with hashed API keys.
New tables only: existing rows are untouched.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'external_tasks',
        sa.Column('external_task_id', sa.Uuid(), nullable=False),
        sa.Column('instance_id', sa.Uuid(), nullable=False),
        sa.Column('process_key', sa.String(length=200), nullable=False),
        sa.Column('element_id', sa.String(length=200), nullable=False),
        sa.Column('name', sa.String(length=500), nullable=False),
        sa.Column('topic', sa.String(length=200), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('variables', sa.JSON(), nullable=False),
        sa.Column('worker_id', sa.String(length=255), nullable=True),
        sa.Column('lock_expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('retries', sa.Integer(), nullable=True),
        sa.Column('retry_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('error_message', sa.Text(), nullable=True),
        sa.Column('error_details', sa.Text(), nullable=True),
        sa.Column('priority', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('completed_by', sa.String(length=64), nullable=True),
        sa.Column('lock_version', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['instance_id'], ['instances.instance_id'],
                                name=op.f('fk_external_tasks_instance_id_instances'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('external_task_id', name=op.f('pk_external_tasks')),
    )
    op.create_index(op.f('ix_external_tasks_instance_id'), 'external_tasks', ['instance_id'], unique=False)
    op.create_index(op.f('ix_external_tasks_status_topic_priority'), 'external_tasks',
                    ['status', 'topic', 'priority'], unique=False)
    op.create_table(
        'service_accounts',
        sa.Column('service_account_id', sa.Uuid(), nullable=False),
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('key_hash', sa.String(length=200), nullable=False),
        sa.Column('created_by', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('service_account_id', name=op.f('pk_service_accounts')),
        sa.UniqueConstraint('name', name=op.f('uq_service_accounts_name')),
    )


def downgrade() -> None:
    op.drop_table('service_accounts')
    op.drop_index(op.f('ix_external_tasks_status_topic_priority'), table_name='external_tasks')
    op.drop_index(op.f('ix_external_tasks_instance_id'), table_name='external_tasks')
    op.drop_table('external_tasks')
