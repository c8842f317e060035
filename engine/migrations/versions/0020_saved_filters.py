"""saved inbox filters and the case's product model

`saved_filters`: a person's named inbox filters (engine/saved_filters.py).
`instances.product_model`: promoted from the case's variables like serial_number, so inbox rows show it
without reading the workflow state; not indexed, since no queue filters on it.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02 13:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('product_model', sa.String(length=200), nullable=True))
    op.create_table('saved_filters',
    sa.Column('filter_id', sa.Uuid(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('query', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('filter_id', name=op.f('pk_saved_filters')),
    sa.UniqueConstraint('username', 'name', name=op.f('uq_saved_filters_username_name'))
    )


def downgrade() -> None:
    op.drop_table('saved_filters')
    with op.batch_alter_table('instances', schema=None) as batch_op:
        batch_op.drop_column('product_model')
