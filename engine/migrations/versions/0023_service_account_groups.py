"""the groups a service account acts in

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-03 08:00:00.000000

Service accounts were external-task workers only. Scoped to groups, one can call the API as a member
of them (the hotline's system starting complaints as an RCC agent would); an account in no group
keeps doing what it did (issue 16, integration basics).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'service_account_groups',
        sa.Column('service_account_id', sa.Uuid(), nullable=False),
        sa.Column('group_id', sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(['group_id'], ['groups.group_id'],
                                name=op.f('fk_service_account_groups_group_id_groups'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['service_account_id'], ['service_accounts.service_account_id'],
                                name=op.f('fk_service_account_groups_service_account_id_service_accounts'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('service_account_id', 'group_id', name=op.f('pk_service_account_groups')),
    )


def downgrade() -> None:
    op.drop_table('service_account_groups')
