"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25 12:51:20.219633
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None

# The organisation's roles (docs/domain.md) plus the system's own: candidate groups of the processes.
STANDARD_GROUPS = [
    ("outlet", "特约服务网点 / Authorised service outlet"),
    ("rcc_agent", "地区中心咨询员 / RCC hotline agent"),
    ("rcc_visitor", "地区中心回访员 / RCC return-visit agent"),
    ("rcc_director", "地区顾客服务中心主任 / RCC director"),
    ("rcc_settlement", "审单结算员 / Settlement clerk"),
    ("tech_section", "技术管理科 / Technical management section"),
    ("csd_head", "顾客服务部部长 / CSD head"),
    ("training", "培训专员 / HR and training specialist"),
    ("quality", "服务质量专员 / Service-quality specialist"),
    ("designer", "流程设计员 / Process designer"),
    ("admin", "系统管理员 / Administrator"),
]


def upgrade() -> None:
    op.create_table('audit_events',
    sa.Column('event_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('instance_id', sa.Uuid(), nullable=True),
    sa.Column('task_id', sa.Uuid(), nullable=True),
    sa.Column('definition_key', sa.String(length=200), nullable=True),
    sa.Column('event_type', sa.String(length=64), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('event_id', name=op.f('pk_audit_events'))
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_events_actor_instance_id'), ['actor', 'instance_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_events_instance_id_event_id'), ['instance_id', 'event_id'], unique=False)

    op.create_table('deployments',
    sa.Column('deployment_id', sa.Uuid(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('deployed_by', sa.String(length=64), nullable=False),
    sa.Column('deployed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('deployment_id', name=op.f('pk_deployments'))
    )
    with op.batch_alter_table('deployments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deployments_content_hash'), ['content_hash'], unique=False)

    op.create_table('groups',
    sa.Column('group_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('group_id', name=op.f('pk_groups'))
    )
    op.create_table('users',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('is_demo', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_users')),
    sa.UniqueConstraint('username', name=op.f('uq_users_username'))
    )
    op.create_table('definitions',
    sa.Column('definition_id', sa.Uuid(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('deployment_id', sa.Uuid(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('spec', sa.JSON(), nullable=False),
    sa.Column('serializer_version', sa.String(length=16), nullable=False),
    sa.Column('elements', sa.JSON(), nullable=False),
    sa.Column('deployed_by', sa.String(length=64), nullable=False),
    sa.Column('deployed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['deployment_id'], ['deployments.deployment_id'], name=op.f('fk_definitions_deployment_id_deployments')),
    sa.PrimaryKeyConstraint('definition_id', name=op.f('pk_definitions')),
    sa.UniqueConstraint('key', 'version', name=op.f('uq_definitions_key_version'))
    )
    op.create_table('memberships',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('group_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['groups.group_id'], name=op.f('fk_memberships_group_id_groups'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.user_id'], name=op.f('fk_memberships_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'group_id', name=op.f('pk_memberships'))
    )
    op.create_table('instances',
    sa.Column('instance_id', sa.Uuid(), nullable=False),
    sa.Column('definition_id', sa.Uuid(), nullable=False),
    sa.Column('definition_key', sa.String(length=200), nullable=False),
    sa.Column('business_key', sa.String(length=200), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('status_reason', sa.Text(), nullable=True),
    sa.Column('state', sa.JSON(), nullable=False),
    sa.Column('serializer_version', sa.String(length=16), nullable=False),
    sa.Column('started_by', sa.String(length=64), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lock_version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['definition_id'], ['definitions.definition_id'], name=op.f('fk_instances_definition_id_definitions')),
    sa.PrimaryKeyConstraint('instance_id', name=op.f('pk_instances'))
    )
    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_instances_business_key'), ['business_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_instances_definition_key_status'), ['definition_key', 'status'], unique=False)

    op.create_table('tasks',
    sa.Column('task_id', sa.Uuid(), nullable=False),
    sa.Column('instance_id', sa.Uuid(), nullable=False),
    sa.Column('element_id', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('form_key', sa.String(length=200), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('assignee', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_by', sa.String(length=64), nullable=True),
    sa.Column('lock_version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['instance_id'], ['instances.instance_id'], name=op.f('fk_tasks_instance_id_instances'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('task_id', name=op.f('pk_tasks'))
    )
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tasks_assignee_status'), ['assignee', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_tasks_instance_id'), ['instance_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_tasks_status_created_at'), ['status', 'created_at'], unique=False)

    op.create_table('timers',
    sa.Column('timer_id', sa.Uuid(), nullable=False),
    sa.Column('instance_id', sa.Uuid(), nullable=False),
    sa.Column('element_id', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('fired_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['instance_id'], ['instances.instance_id'], name=op.f('fk_timers_instance_id_instances'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('timer_id', name=op.f('pk_timers'))
    )
    with op.batch_alter_table('timers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_timers_status_due_at'), ['status', 'due_at'], unique=False)

    op.create_table('task_candidate_groups',
    sa.Column('task_id', sa.Uuid(), nullable=False),
    sa.Column('group_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.task_id'], name=op.f('fk_task_candidate_groups_task_id_tasks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('task_id', 'group_id', name=op.f('pk_task_candidate_groups'))
    )
    with op.batch_alter_table('task_candidate_groups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_task_candidate_groups_group_id_task_id'), ['group_id', 'task_id'], unique=False)

    groups = sa.table("groups", sa.column("group_id"), sa.column("name"), sa.column("created_at", sa.DateTime(timezone=True)))
    seeded_at = datetime.now(UTC)
    op.bulk_insert(groups, [{"group_id": g, "name": n, "created_at": seeded_at} for g, n in STANDARD_GROUPS])


def downgrade() -> None:
    with op.batch_alter_table('task_candidate_groups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_task_candidate_groups_group_id_task_id'))

    op.drop_table('task_candidate_groups')
    with op.batch_alter_table('timers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_timers_status_due_at'))

    op.drop_table('timers')
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tasks_status_created_at'))
        batch_op.drop_index(batch_op.f('ix_tasks_instance_id'))
        batch_op.drop_index(batch_op.f('ix_tasks_assignee_status'))

    op.drop_table('tasks')
    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_instances_definition_key_status'))
        batch_op.drop_index(batch_op.f('ix_instances_business_key'))

    op.drop_table('instances')
    op.drop_table('memberships')
    op.drop_table('definitions')
    op.drop_table('users')
    op.drop_table('groups')
    with op.batch_alter_table('deployments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deployments_content_hash'))

    op.drop_table('deployments')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_events_instance_id_event_id'))
        batch_op.drop_index(batch_op.f('ix_audit_events_actor_instance_id'))

    op.drop_table('audit_events')
