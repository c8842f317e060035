"""attachments: files on a case and a task, and the database store's bytes

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 05:00:00.000000

An attachment row says what a file is (sniffed type, size, sha256, who added it at which step); the
bytes live behind the attachment store, by default in `attachment_blobs` in the same database, so a
file is added or not together with the step that adds it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

def upgrade() -> None:
    op.create_table(
        'attachments',
        sa.Column('attachment_id', sa.Uuid(), nullable=False),
        sa.Column('instance_id', sa.Uuid(), nullable=True),
        sa.Column('task_id', sa.Uuid(), nullable=True),
        sa.Column('filename', sa.String(length=255), nullable=False),
        sa.Column('content_type', sa.String(length=100), nullable=False),
        sa.Column('size_bytes', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('has_thumbnail', sa.Boolean(), nullable=False),
        sa.Column('uploaded_by', sa.String(length=64), nullable=False),
        sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['instance_id'], ['instances.instance_id'],
                                name=op.f('fk_attachments_instance_id_instances')),
        sa.PrimaryKeyConstraint('attachment_id', name=op.f('pk_attachments')),
    )
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.create_index('ix_attachments_instance_id_uploaded_at', ['instance_id', 'uploaded_at'], unique=False)
        batch_op.create_index('ix_attachments_uploaded_by_uploaded_at', ['uploaded_by', 'uploaded_at'], unique=False)
    op.create_table(
        'attachment_blobs',
        sa.Column('key', sa.String(length=80), nullable=False),
        sa.Column('content', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_attachment_blobs')),
    )

def downgrade() -> None:
    op.drop_table('attachment_blobs')
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.drop_index('ix_attachments_uploaded_by_uploaded_at')
        batch_op.drop_index('ix_attachments_instance_id_uploaded_at')
    op.drop_table('attachments')
