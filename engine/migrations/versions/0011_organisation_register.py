"""the organisation as data: regions, the outlet register, the customer and product archive

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 01:20:00.000000

Regions (RCC areas) with their cities and central cities; outlets with their region, status, class,
agreement, staff and assessment records; customers and their products (a serial number belongs to one
customer). Users gain `region_code`: RCC staff see their region's cases. Existing users stay unbound.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        'regions',
        sa.Column('code', sa.String(length=50), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('cities', sa.JSON(), nullable=False),
        sa.Column('central_cities', sa.JSON(), nullable=False),
        sa.Column('created_at', UTC_DATETIME, nullable=False),
        sa.Column('updated_at', UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint('code', name=op.f('pk_regions')),
    )
    op.create_table(
        'outlets',
        sa.Column('code', sa.String(length=50), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('region_code', sa.String(length=50), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('outlet_class', sa.String(length=50), nullable=True),
        sa.Column('cities', sa.JSON(), nullable=False),
        sa.Column('agreement_no', sa.String(length=100), nullable=True),
        sa.Column('agreement_from', sa.Date(), nullable=True),
        sa.Column('agreement_to', sa.Date(), nullable=True),
        sa.Column('onboarding_instance_id', sa.Uuid(), nullable=True),
        sa.Column('created_at', UTC_DATETIME, nullable=False),
        sa.Column('updated_at', UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(['region_code'], ['regions.code'], name=op.f('fk_outlets_region_code_regions')),
        sa.PrimaryKeyConstraint('code', name=op.f('pk_outlets')),
    )
    op.create_index(op.f('ix_outlets_region_code_status'), 'outlets', ['region_code', 'status'], unique=False)
    op.create_table(
        'outlet_staff',
        sa.Column('staff_id', sa.Uuid(), nullable=False),
        sa.Column('outlet_code', sa.String(length=50), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('role', sa.String(length=100), nullable=False),
        sa.Column('certified_on', sa.Date(), nullable=True),
        sa.Column('created_at', UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(['outlet_code'], ['outlets.code'], name=op.f('fk_outlet_staff_outlet_code_outlets'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('staff_id', name=op.f('pk_outlet_staff')),
    )
    op.create_index(op.f('ix_outlet_staff_outlet_code'), 'outlet_staff', ['outlet_code'], unique=False)
    op.create_table(
        'outlet_assessments',
        sa.Column('assessment_id', sa.Uuid(), nullable=False),
        sa.Column('outlet_code', sa.String(length=50), nullable=False),
        sa.Column('assessed_at', UTC_DATETIME, nullable=False),
        sa.Column('passed', sa.Boolean(), nullable=False),
        sa.Column('score', sa.Integer(), nullable=True),
        sa.Column('notes', sa.Text(), nullable=True),
        sa.Column('instance_id', sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(['outlet_code'], ['outlets.code'],
                                name=op.f('fk_outlet_assessments_outlet_code_outlets'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('assessment_id', name=op.f('pk_outlet_assessments')),
    )
    op.create_index(op.f('ix_outlet_assessments_outlet_code'), 'outlet_assessments', ['outlet_code'], unique=False)
    op.create_table(
        'customers',
        sa.Column('customer_id', sa.Uuid(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('phone', sa.String(length=30), nullable=False),
        sa.Column('address', sa.String(length=500), nullable=True),
        sa.Column('city', sa.String(length=100), nullable=True),
        sa.Column('region_code', sa.String(length=50), nullable=True),
        sa.Column('created_at', UTC_DATETIME, nullable=False),
        sa.Column('updated_at', UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(['region_code'], ['regions.code'], name=op.f('fk_customers_region_code_regions')),
        sa.PrimaryKeyConstraint('customer_id', name=op.f('pk_customers')),
    )
    op.create_index(op.f('ix_customers_phone'), 'customers', ['phone'], unique=False)
    op.create_index(op.f('ix_customers_region_code'), 'customers', ['region_code'], unique=False)
    op.create_table(
        'products',
        sa.Column('serial_number', sa.String(length=100), nullable=False),
        sa.Column('customer_id', sa.Uuid(), nullable=False),
        sa.Column('model', sa.String(length=100), nullable=False),
        sa.Column('purchase_date', sa.Date(), nullable=True),
        sa.Column('invoice_no', sa.String(length=100), nullable=True),
        sa.Column('created_at', UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.customer_id'],
                                name=op.f('fk_products_customer_id_customers'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('serial_number', name=op.f('pk_products')),
    )
    op.create_index(op.f('ix_products_customer_id'), 'products', ['customer_id'], unique=False)
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('region_code', sa.String(length=50), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('region_code')
    op.drop_index(op.f('ix_products_customer_id'), table_name='products')
    op.drop_table('products')
    op.drop_index(op.f('ix_customers_region_code'), table_name='customers')
    op.drop_index(op.f('ix_customers_phone'), table_name='customers')
    op.drop_table('customers')
    op.drop_index(op.f('ix_outlet_assessments_outlet_code'), table_name='outlet_assessments')
    op.drop_table('outlet_assessments')
    op.drop_index(op.f('ix_outlet_staff_outlet_code'), table_name='outlet_staff')
    op.drop_table('outlet_staff')
    op.drop_index(op.f('ix_outlets_region_code_status'), table_name='outlets')
    op.drop_table('outlets')
    op.drop_table('regions')
