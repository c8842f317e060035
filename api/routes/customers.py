from __future__ import annotations

import uuid

from api.deps import CHECKED_INPUT, ActorDep, ClockDep, SessionDep
from api.network_schemas import CustomerCaseOut, CustomerIn, CustomerOut, CustomerUpdateIn, ProductIn
from api.problems import API_ERRORS
from api.routing import api_router
from engine import customers
from engine.db import reading

router = api_router(prefix="/api", tags=["customers"], responses=API_ERRORS, dependencies=CHECKED_INPUT)


@router.get("/customers", summary="Customers of the archive by name, phone or serial number (RCC of their region, CSD)")
def find_customers(session: SessionDep, actor: ActorDep, search: str | None = None,
                   limit: int = 50) -> list[CustomerOut]:
    with reading(session):
        return [CustomerOut.of(c) for c in customers.find_customers(session, actor=actor, search=search, limit=limit)]


@router.post("/customers", status_code=201, summary="Enter a customer with their products")
def create_customer(body: CustomerIn, session: SessionDep, clock: ClockDep, actor: ActorDep) -> CustomerOut:
    with session.begin():
        data = body.model_dump()
        return CustomerOut.of(customers.add_customer(session, clock, actor=actor, **data))


@router.get("/customers/{customer_id}", summary="One customer with their products")
def get_customer(customer_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> CustomerOut:
    with reading(session):
        return CustomerOut.of(customers.get_customer(session, actor=actor, customer_id=customer_id))


@router.patch("/customers/{customer_id}", summary="Change a customer's details or add products")
def update_customer(customer_id: uuid.UUID, body: CustomerUpdateIn, session: SessionDep, clock: ClockDep,
                    actor: ActorDep) -> CustomerOut:
    with session.begin():
        return CustomerOut.of(customers.update_customer(session, clock, actor=actor, customer_id=customer_id,
                                                        **body.model_dump()))


@router.post("/customers/{customer_id}/products", status_code=201, summary="Add a product to a customer")
def add_product(customer_id: uuid.UUID, body: ProductIn, session: SessionDep, clock: ClockDep,
                actor: ActorDep) -> CustomerOut:
    with session.begin():
        return CustomerOut.of(customers.add_product_of(session, clock, actor=actor, customer_id=customer_id,
                                                       **body.model_dump()))


@router.get("/customers/{customer_id}/cases", summary="Every case of a customer's products that the caller may see")
def customer_cases(customer_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> list[CustomerCaseOut]:
    with reading(session):
        return [CustomerCaseOut.of(c) for c in customers.cases_of(session, actor=actor, customer_id=customer_id)]


@router.get("/products/{serial_number}/cases", summary="Every case of one serial number that the caller may see")
def product_cases(serial_number: str, session: SessionDep, actor: ActorDep) -> list[CustomerCaseOut]:
    with reading(session):
        customers.require_archive_reader(actor, None)
        return [CustomerCaseOut.of(c) for c in customers.cases_of(session, actor=actor, serial_number=serial_number)]
