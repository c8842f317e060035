"""revocable sessions and login lock-out: users.token_generation and failed-login bookkeeping

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 21:30:00.000000

A token names the user's `token_generation` at issue; moving it on (logout, password change or
reset, disabling) ends every older token. `failed_logins` counts failures since `first_failed_at`;
too many within the window lock password logins until `locked_until_at`. Existing rows start at
generation 0 with no failures; tokens issued before this revision carry no generation and are refused.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token_generation', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('failed_logins', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('first_failed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('locked_until_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('locked_until_at')
        batch_op.drop_column('first_failed_at')
        batch_op.drop_column('failed_logins')
        batch_op.drop_column('token_generation')
