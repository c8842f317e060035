"""The customer and product archive (顾客档案): customers, their products, and every case of either.

A serial number belongs to one customer. Complaint, return, repair and return-visit cases link to the
archive through the serial number (and the customer's phone) they carry, so a customer's page lists
their cases across processes. Reading the archive is for the RCC of the customer's region, the CSD
and admins: outlet staff see customers only through their own cases.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine.audit import record_event
from engine.clock import Clock
from engine.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from engine.identity import Actor
from engine.network import get_region
from engine.permissions import Permission, has
from engine.tables import Customer, Definition, Instance, Product, Task
from engine.visibility import instance_visible_to


@dataclass(frozen=True)
class ProductInfo:
    serial_number: str
    model: str
    purchase_date: date | None
    invoice_no: str | None


@dataclass(frozen=True)
class CustomerInfo:
    customer_id: uuid.UUID
    name: str
    phone: str
    address: str | None
    city: str | None
    region_code: str | None
    products: tuple[ProductInfo, ...]


@dataclass(frozen=True)
class CustomerCase:
    instance_id: uuid.UUID
    definition_key: str
    process_name: str
    business_key: str | None
    serial_number: str | None
    status: str
    started_at: datetime
    ended_at: datetime | None
    return_visits: int  # return-visit steps the case went through (a call activity inside the case)


def require_archive_reader(actor: Actor, region_code: str | None) -> None:
    """Raises: PermissionDeniedError unless the actor may read customers of that region."""
    if has(actor, Permission.ADMINISTER) or (actor.outlet_code is None and has(actor, Permission.ARCHIVE) and (
            actor.region_code is None or region_code is None or actor.region_code == region_code)):
        return
    raise PermissionDeniedError("the customer archive is kept by the RCC of the customer's region and the CSD")


def add_customer(session: Session, clock: Clock, *, actor: Actor, name: str, phone: str,
                 address: str | None = None, city: str | None = None, region_code: str | None = None,
                 products: list[dict[str, Any]] | None = None) -> CustomerInfo:
    """Raises: ValidationError (bad field, unknown region), ConflictError (a serial number owned by another)."""
    if region_code is not None:
        get_region(session, region_code, field="region_code")
    require_archive_reader(actor, region_code)
    _require_text(name, "name", 200)
    _require_text(phone, "phone", 30)
    now = clock.now()
    customer = Customer(name=name.strip(), phone=phone.strip(), address=address, city=city, region_code=region_code,
                        created_at=now, updated_at=now)
    session.add(customer)
    session.flush()
    for product in products or []:
        add_product(session, clock, customer=customer, **product)
    record_event(session, clock, actor=actor.username, event_type="customer_created",
                 data={"customer_id": str(customer.customer_id), "name": customer.name, "region_code": region_code,
                       "serial_numbers": [p.get("serial_number") for p in products or []]})
    session.flush()
    return customer_info(session, customer)


def add_product(session: Session, clock: Clock, *, customer: Customer, serial_number: str, model: str,
                purchase_date: date | None = None, invoice_no: str | None = None) -> None:
    """Raises: ValidationError, ConflictError (the serial number belongs to another customer)."""
    _require_text(serial_number, "serial_number", 100)
    _require_text(model, "model", 100)
    owner = session.get(Product, serial_number.strip())
    if owner is not None and owner.customer_id == customer.customer_id:
        return  # already theirs: entering it again changes nothing
    if owner is not None:
        raise ConflictError(f"serial number '{serial_number}' already belongs to another customer",
                            field="serial_number")
    session.add(Product(serial_number=serial_number.strip(), customer_id=customer.customer_id, model=model.strip(),
                        purchase_date=purchase_date, invoice_no=invoice_no, created_at=clock.now()))
    session.flush()  # the next product of the same request finds this one


def update_customer(session: Session, clock: Clock, *, actor: Actor, customer_id: uuid.UUID,
                    products: list[dict[str, Any]] | None = None, **fields: Any) -> CustomerInfo:
    """Change a customer's name, phone, address, city or region, and add products.

    Raises: NotFoundError, PermissionDeniedError, ValidationError, ConflictError.
    """
    get_customer(session, actor=actor, customer_id=customer_id)  # NotFound for a customer they may not read
    customer = session.get(Customer, customer_id)
    assert customer is not None
    changes = {k: v for k, v in fields.items() if v is not None}
    if "region_code" in changes:
        get_region(session, changes["region_code"], field="region_code")
        require_archive_reader(actor, changes["region_code"])  # no moving a customer out of one's reach
    for name, limit in (("name", 200), ("phone", 30)):
        if name in changes:
            _require_text(changes[name], name, limit)
    for name, value in changes.items():
        setattr(customer, name, value.strip() if isinstance(value, str) else value)
    customer.updated_at = clock.now()
    for product in products or []:
        add_product(session, clock, customer=customer, **product)
    record_event(session, clock, actor=actor.username, event_type="customer_updated",
                 data={"customer_id": str(customer_id), **changes,
                       "serial_numbers_added": [p.get("serial_number") for p in products or []]})
    session.flush()
    return customer_info(session, customer)


def add_product_of(session: Session, clock: Clock, *, actor: Actor, customer_id: uuid.UUID, serial_number: str,
                   model: str, purchase_date: date | None = None, invoice_no: str | None = None) -> CustomerInfo:
    """Raises: NotFoundError, ValidationError, ConflictError (the serial number belongs to another customer)."""
    return update_customer(session, clock, actor=actor, customer_id=customer_id, products=[
        {"serial_number": serial_number, "model": model, "purchase_date": purchase_date, "invoice_no": invoice_no}])


def get_customer(session: Session, *, actor: Actor, customer_id: uuid.UUID) -> CustomerInfo:
    """Raises: NotFoundError (also when the customer is not the actor's to see)."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFoundError(f"no customer {customer_id}")
    try:
        require_archive_reader(actor, customer.region_code)
    except PermissionDeniedError:
        raise NotFoundError(f"no customer {customer_id}") from None
    return customer_info(session, customer)


def find_customers(session: Session, *, actor: Actor, search: str | None = None, limit: int = 50) -> list[CustomerInfo]:
    """Customers the actor may read, by name, phone or serial number."""
    require_archive_reader(actor, None)
    query = select(Customer).order_by(Customer.name, Customer.customer_id).limit(max(1, min(limit, 200)))
    if actor.region_code is not None and not has(actor, Permission.ADMINISTER):
        query = query.where(Customer.region_code == actor.region_code)
    if search and search.strip():
        term = search.strip()
        owners = select(Product.customer_id).where(Product.serial_number.icontains(term, autoescape=True))
        query = query.where(or_(Customer.name.icontains(term, autoescape=True),
                                Customer.phone.icontains(term, autoescape=True), Customer.customer_id.in_(owners)))
    return [customer_info(session, c) for c in session.scalars(query)]


def cases_of(session: Session, *, actor: Actor, customer_id: uuid.UUID | None = None,
             serial_number: str | None = None) -> list[CustomerCase]:
    """Every case of a customer (any of their serial numbers, or their phone) or of one serial number
    that the actor may see, newest first."""
    serials: list[str] = [serial_number] if serial_number else []
    customer = None
    if customer_id is not None:
        customer = info = get_customer(session, actor=actor, customer_id=customer_id)
        serials = [p.serial_number for p in info.products] if not serial_number else serials
    if not serials and customer is None:
        raise ValidationError("name a customer or a serial number", field="serial_number")
    if not serials:
        return []
    query = (select(Instance, Definition.name).join(Definition, Definition.definition_id == Instance.definition_id)
             .where(Instance.serial_number.in_(serials))
             .order_by(Instance.started_at.desc(), Instance.instance_id))
    query = query.where(instance_visible_to(actor))
    rows = session.execute(query).all()
    visits = _return_visits(session, [r.instance_id for r, _ in rows])
    return [CustomerCase(r.instance_id, r.definition_key, name, r.business_key, r.serial_number, r.status,
                         r.started_at, r.ended_at, visits.get(r.instance_id, 0)) for r, name in rows]


def _return_visits(session: Session, instance_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    counts: dict[uuid.UUID, int] = {}
    if instance_ids:
        query = select(Task.instance_id).where(Task.instance_id.in_(instance_ids), Task.process_key == "return_visit")
        for instance_id in session.scalars(query):
            counts[instance_id] = counts.get(instance_id, 0) + 1
    return counts


def customer_info(session: Session, customer: Customer) -> CustomerInfo:
    products = session.scalars(select(Product).where(Product.customer_id == customer.customer_id)
                               .order_by(Product.serial_number))
    return CustomerInfo(customer.customer_id, customer.name, customer.phone, customer.address, customer.city,
                        customer.region_code,
                        tuple(ProductInfo(p.serial_number, p.model, p.purchase_date, p.invoice_no) for p in products))


def _require_text(value: Any, field: str, limit: int) -> None:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise ValidationError(f"{field} must be 1-{limit} characters", field=field)
