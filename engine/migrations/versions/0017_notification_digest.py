"""notification digest: the event kinds a person hears of in one daily mail instead of single mails


Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 05:00:00.000000

`notification_settings.digest` lists event kinds ("*": every kind) whose mails wait, with the
status `digest`, for the recipient's one digest mail per working day (engine/notifications/digest.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('notification_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('digest', sa.JSON(), nullable=False, server_default='[]'))


def downgrade() -> None:
    with op.batch_alter_table('notification_settings', schema=None) as batch_op:
        batch_op.drop_column('digest')
