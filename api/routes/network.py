from __future__ import annotations

from api.deps import CHECKED_INPUT, ActorDep, ClockDep, SessionDep
from api.network_schemas import (
    OutletArchiveOut,
    OutletIn,
    OutletOut,
    OutletStandingIn,
    OutletUpdateIn,
    RegionIn,
    RegionOut,
    RegionUpdateIn,
    StaffIn,
    StaffOut,
)
from api.problems import API_ERRORS
from api.routing import api_router
from engine import network, outlet_archive, outlet_standing
from engine.db import reading

router = api_router(prefix="/api", tags=["the service network"], responses=API_ERRORS, dependencies=CHECKED_INPUT)


@router.get("/regions", summary="The regions (RCC areas) with their cities and central cities")
def list_regions(session: SessionDep, actor: ActorDep) -> list[RegionOut]:
    with reading(session):
        return [RegionOut.of(r) for r in network.list_regions(session)]


@router.post("/regions", status_code=201, summary="Create a region (admins)")
def create_region(body: RegionIn, session: SessionDep, clock: ClockDep, actor: ActorDep) -> RegionOut:
    with session.begin():
        return RegionOut.of(network.save_region(session, clock, actor=actor, create=True, **body.model_dump()))


@router.put("/regions/{code}", summary="Rename a region or change its cities (admins)")
def update_region(code: str, body: RegionUpdateIn, session: SessionDep, clock: ClockDep, actor: ActorDep) -> RegionOut:
    with session.begin():
        return RegionOut.of(network.save_region(session, clock, actor=actor, code=code, create=False,
                                                **body.model_dump()))


@router.get("/outlets", summary="The outlet register, by region, status or city served")
def list_outlets(session: SessionDep, actor: ActorDep, region_code: str | None = None, status: str | None = None,
                 city: str | None = None) -> list[OutletOut]:
    with reading(session):
        return [OutletOut.of(o) for o in network.list_outlets(session, region_code=region_code, status=status,
                                                               city=city)]


@router.get("/outlets/{code}", summary="One outlet of the register")
def get_outlet(code: str, session: SessionDep, actor: ActorDep) -> OutletOut:
    with reading(session):
        return OutletOut.of(network.outlet_info(network.get_outlet(session, code)))


@router.post("/outlets", status_code=201, summary="Enter an outlet (admins; the RCC director of its region)")
def create_outlet(body: OutletIn, session: SessionDep, clock: ClockDep, actor: ActorDep) -> OutletOut:
    with session.begin():
        return OutletOut.of(network.add_outlet(session, clock, actor=actor, **body.model_dump()))


@router.patch("/outlets/{code}", summary="Change an outlet's name, class, cities or agreement")
def update_outlet(code: str, body: OutletUpdateIn, session: SessionDep, clock: ClockDep, actor: ActorDep) -> OutletOut:
    with session.begin():
        return OutletOut.of(network.update_outlet(session, clock, actor=actor, code=code, **body.model_dump()))


@router.post("/outlets/{code}/status", summary="Suspend, reinstate or revoke an outlet (admins; its RCC director)")
def change_status(code: str, body: OutletStandingIn, session: SessionDep, clock: ClockDep,
                  actor: ActorDep) -> OutletOut:
    with session.begin():
        network.require_keeper(actor, network.get_outlet(session, code).region_code)
        outlet = outlet_standing.change_standing(session, clock, actor=actor.username, code=code,
                                                 status=body.status, reason=body.reason)
        return OutletOut.of(network.outlet_info(outlet))


@router.get("/outlets/{code}/archive", summary="An outlet's archive: staff, assessments, monthly volumes")
def outlet_archive_of(code: str, session: SessionDep, actor: ActorDep) -> OutletArchiveOut:
    with reading(session):
        network.require_reader_of_archive(actor, code)
        return OutletArchiveOut.of(outlet_archive.archive_of(session, code))


@router.post("/outlets/{code}/staff", status_code=201, summary="Add a staff record (admins; the outlet's RCC director)")
def add_staff(code: str, body: StaffIn, session: SessionDep, clock: ClockDep, actor: ActorDep) -> StaffOut:
    with session.begin():
        return StaffOut.of(outlet_archive.add_staff(session, clock, actor=actor, code=code, **body.model_dump()))
