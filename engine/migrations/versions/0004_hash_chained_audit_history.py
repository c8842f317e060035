"""hash-chained audit history

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 13:57:12.690399
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('row_hash', sa.String(length=64), nullable=False, server_default=''))
    _chain_existing_rows()


def _chain_existing_rows() -> None:
    """Chain the history written before this revision, in the order it was written.

    This imports the engine's hash function (rather than a frozen copy) because verification
    must agree with it byte for byte.
    """
    from sqlalchemy.orm import Session

    from engine.audit import row_hash
    from engine.tables import AuditEvent

    session = Session(bind=op.get_bind())
    tails: dict[object, str] = {}
    for event in session.scalars(sa.select(AuditEvent).order_by(AuditEvent.event_id)):
        event.prev_hash = tails.get(event.instance_id, "")
        event.row_hash = tails[event.instance_id] = row_hash(event)
    session.flush()


def downgrade() -> None:
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_column('row_hash')
        batch_op.drop_column('prev_hash')

