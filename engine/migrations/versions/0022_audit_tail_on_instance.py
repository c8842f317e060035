"""the audit chain's tail on the instance row

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02 13:00:00.000000

Each write step used to lock the case's history chain (an advisory lock) and search the history
for its last hash: two statements per step. The tail now lives on the instance row, which a step
locks anyway (issue 18). Existing cases get the hash of their last history row.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('audit_tail', sa.String(length=64), nullable=False, server_default=''))
    op.execute("UPDATE instances SET audit_tail = COALESCE((SELECT a.row_hash FROM audit_events a "
               "WHERE a.instance_id = instances.instance_id ORDER BY a.event_id DESC LIMIT 1), '')")


def downgrade() -> None:
    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.drop_column('audit_tail')
