"""The organisation's pages: the service network (regions and outlets) and the customer archive."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import HTMLResponse

from api.deps import CHECKED_INPUT, SessionDep
from api.routing import api_router
from api.web.pages import PageActor, render
from engine import customers, network
from engine.db import reading
from engine.permissions import Permission, has
from engine.states import OUTLET_TRANSITIONS, OutletStatus

router = api_router(include_in_schema=False, dependencies=CHECKED_INPUT)


@router.get("/network")
def network_page(request: Request, session: SessionDep, actor: PageActor, region: str = "",
                 status: str = "") -> HTMLResponse:
    status = status if status in OutletStatus.__members__.values() else ""
    with reading(session):
        regions = network.list_regions(session)
        outlets = network.list_outlets(session, region_code=region or None, status=status or None)
    keeps = {r.code for r in regions if has(actor, Permission.ADMINISTER)
             or (actor.region_code == r.code and network.KEEPER_GROUP in actor.groups)}
    return render(request, "network.html", actor=actor, section="network", regions=regions, outlets=outlets,
                  keeps=keeps, statuses=list(OutletStatus), moves=OUTLET_TRANSITIONS,
                  filters={"region": region, "status": status})


@router.get("/customers")
def customers_page(request: Request, session: SessionDep, actor: PageActor,
                   search: Annotated[str, Query(max_length=200)] = "") -> HTMLResponse:
    with reading(session):
        found = customers.find_customers(session, actor=actor, search=search or None)
        regions = network.list_regions(session)
    return render(request, "customers.html", actor=actor, section="customers", customers=found, search=search,
                  regions=regions)


@router.get("/customers/{customer_id}")
def customer_page(customer_id: uuid.UUID, request: Request, session: SessionDep, actor: PageActor) -> HTMLResponse:
    with reading(session):
        customer = customers.get_customer(session, actor=actor, customer_id=customer_id)
        cases = customers.cases_of(session, actor=actor, customer_id=customer_id)
    return render(request, "customer.html", actor=actor, section="customers", customer=customer, cases=cases)
