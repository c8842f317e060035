"""Wire shapes of the organisation: regions, outlets, customers and their cases."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import Field

from api.schemas import In, Out
from engine.customers import CustomerCase, CustomerInfo
from engine.network import OutletInfo, RegionInfo
from engine.outlet_archive import OutletArchive, StaffRecord
from engine.states import OutletStatus

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,49}$"


class RegionOut(Out):
    code: str
    name: str
    cities: list[str]
    central_cities: list[str]

    @classmethod
    def of(cls, info: RegionInfo) -> RegionOut:
        return cls(**{**info.__dict__, "cities": list(info.cities), "central_cities": list(info.central_cities)})


class RegionIn(In):
    code: str = Field(min_length=1, max_length=50, pattern=CODE_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    cities: list[str] = Field(default_factory=list, max_length=500)
    central_cities: list[str] = Field(default_factory=list, max_length=500)


class RegionUpdateIn(In):
    name: str = Field(min_length=1, max_length=200)
    cities: list[str] = Field(default_factory=list, max_length=500)
    central_cities: list[str] = Field(default_factory=list, max_length=500)


class OutletOut(Out):
    code: str
    name: str
    region_code: str
    status: OutletStatus
    outlet_class: str | None
    cities: list[str]
    agreement_no: str | None
    agreement_from: date | None
    agreement_to: date | None
    updated_at: datetime

    @classmethod
    def of(cls, info: OutletInfo) -> OutletOut:
        return cls(**{**info.__dict__, "cities": list(info.cities)})


class OutletIn(In):
    code: str = Field(min_length=1, max_length=50, pattern=CODE_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    region_code: str = Field(min_length=1, max_length=50)
    status: OutletStatus = OutletStatus.ACTIVE
    outlet_class: str | None = Field(default=None, max_length=50)
    cities: list[str] = Field(default_factory=list, max_length=500)
    agreement_no: str | None = Field(default=None, max_length=100)
    agreement_from: date | None = None
    agreement_to: date | None = None


class OutletUpdateIn(In):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    outlet_class: str | None = Field(default=None, max_length=50)
    cities: list[str] | None = Field(default=None, max_length=500)
    agreement_no: str | None = Field(default=None, max_length=100)
    agreement_from: date | None = None
    agreement_to: date | None = None


class OutletStandingIn(In):
    status: OutletStatus
    reason: str = Field(min_length=1, max_length=1000)


class ProductIn(In):
    serial_number: str = Field(min_length=1, max_length=100)
    model: str = Field(min_length=1, max_length=100)
    purchase_date: date | None = None
    invoice_no: str | None = Field(default=None, max_length=100)


class CustomerIn(In):
    name: str = Field(min_length=1, max_length=200)
    phone: str = Field(min_length=1, max_length=30)
    address: str | None = Field(default=None, max_length=500)
    city: str | None = Field(default=None, max_length=100)
    region_code: str | None = Field(default=None, max_length=50)
    products: list[ProductIn] = Field(default_factory=list, max_length=200)


class CustomerUpdateIn(In):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    phone: str | None = Field(default=None, min_length=1, max_length=30)
    address: str | None = Field(default=None, max_length=500)
    city: str | None = Field(default=None, max_length=100)
    region_code: str | None = Field(default=None, max_length=50)
    products: list[ProductIn] = Field(default_factory=list, max_length=200, description="products to add")


class CustomerOut(Out):
    customer_id: uuid.UUID
    name: str
    phone: str
    address: str | None
    city: str | None
    region_code: str | None
    products: list[dict[str, Any]]

    @classmethod
    def of(cls, info: CustomerInfo) -> CustomerOut:
        return cls(**{**info.__dict__, "products": [p.__dict__ for p in info.products]})


class CustomerCaseOut(Out):
    instance_id: uuid.UUID
    definition_key: str
    process_name: str
    business_key: str | None
    serial_number: str | None
    status: str
    started_at: datetime
    ended_at: datetime | None
    return_visits: int
    history_url: str

    @classmethod
    def of(cls, case: CustomerCase) -> CustomerCaseOut:
        return cls(**case.__dict__, history_url=f"/api/instances/{case.instance_id}/history")


class StaffIn(In):
    name: str = Field(min_length=1, max_length=200)
    role: str = Field(min_length=1, max_length=100)
    certified_on: date | None = None


class StaffOut(Out):
    staff_id: uuid.UUID
    name: str
    role: str
    certified_on: date | None

    @classmethod
    def of(cls, record: StaffRecord) -> StaffOut:
        return cls(**record.__dict__)


class OutletArchiveOut(Out):
    outlet: OutletOut
    staff: list[StaffOut]
    assessments: list[dict[str, Any]]
    monthly_volumes: dict[str, dict[str, int]] = Field(description="finished cases per month (YYYY-MM) and process")
    onboarding_instance_id: uuid.UUID | None

    @classmethod
    def of(cls, archive: OutletArchive) -> OutletArchiveOut:
        return cls(outlet=OutletOut.of(archive.outlet), staff=[StaffOut.of(s) for s in archive.staff],
                   assessments=[a.__dict__ for a in archive.assessments], monthly_volumes=archive.monthly_volumes,
                   onboarding_instance_id=archive.onboarding_instance_id)
