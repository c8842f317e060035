"""Storage tables of the organisation: regions, the outlet register, the customer and product archive.

Kept apart from `engine/tables.py` (the engine's own rows) so each file stays readable; both share
one `Base`, so Alembic and the migration test see every table.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from engine.table_base import Base


class Region(Base):
    """An RCC area (地区顾客服务中心): the cities it covers and which of them are central cities (中心城市)."""

    __tablename__ = "regions"
    code: Mapped[str] = mapped_column(String(50), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))  # "中文 / English"
    cities: Mapped[list[Any]] = mapped_column(default=list)
    central_cities: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Outlet(Base):
    """An authorised service outlet (特约服务网点) in the register, with its agreement."""

    __tablename__ = "outlets"
    __table_args__ = (Index(None, "region_code", "status"),)
    code: Mapped[str] = mapped_column(String(50), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"))
    status: Mapped[str] = mapped_column(String(16))  # engine.states.OutletStatus
    outlet_class: Mapped[str | None] = mapped_column(String(50))
    cities: Mapped[list[Any]] = mapped_column(default=list)  # the cities it serves (dispatch suggestions)
    agreement_no: Mapped[str | None] = mapped_column(String(100))
    agreement_from: Mapped[date | None] = mapped_column(Date)
    agreement_to: Mapped[date | None] = mapped_column(Date)
    # The onboarding case that created it, so its archive links back to the registration form.
    onboarding_instance_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class OutletStaff(Base):
    """A staff record of an outlet (engineers with their certification, 工程师认证)."""

    __tablename__ = "outlet_staff"
    staff_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    outlet_code: Mapped[str] = mapped_column(ForeignKey("outlets.code", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(100))
    certified_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime]


class OutletAssessment(Base):
    """An assessment of an outlet (the probation assessment, later reviews)."""

    __tablename__ = "outlet_assessments"
    assessment_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    outlet_code: Mapped[str] = mapped_column(ForeignKey("outlets.code", ondelete="CASCADE"), index=True)
    assessed_at: Mapped[datetime]
    passed: Mapped[bool]
    score: Mapped[int | None] = mapped_column(Integer)
    notes: Mapped[str | None] = mapped_column(Text)
    instance_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)


class Customer(Base):
    """A customer of the archive (顾客档案)."""

    __tablename__ = "customers"
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(30), index=True)
    address: Mapped[str | None] = mapped_column(String(500))
    city: Mapped[str | None] = mapped_column(String(100))
    region_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"), index=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Product(Base):
    """A customer's product; a serial number belongs to one customer."""

    __tablename__ = "products"
    serial_number: Mapped[str] = mapped_column(String(100), primary_key=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.customer_id", ondelete="CASCADE"),
                                                   index=True)
    model: Mapped[str] = mapped_column(String(100))
    purchase_date: Mapped[date | None] = mapped_column(Date)
    invoice_no: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime]
