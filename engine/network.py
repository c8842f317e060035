"""The service network: regions (RCC areas) and the outlet register (特约服务网点档案).

Admins keep the whole register; an RCC director keeps the outlets of their own region. Every change
is a history row in the caller's transaction. Cases are dispatched only to active outlets; what an
outlet's status change does to its staff and open work lives in `engine/outlet_standing.py`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.audit import record_event
from engine.clock import Clock
from engine.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from engine.identity import Actor
from engine.permissions import Permission, has, require
from engine.states import OutletStatus
from engine.tables import Outlet, Region

Entry = TypeVar("Entry", Region, Outlet)
CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,49}$")
KEEPER_GROUP = "rcc_director"  # keeps the outlets of their own region


@dataclass(frozen=True)
class RegionInfo:
    code: str
    name: str
    cities: tuple[str, ...]
    central_cities: tuple[str, ...]


@dataclass(frozen=True)
class OutletInfo:
    code: str
    name: str
    region_code: str
    status: OutletStatus
    outlet_class: str | None
    cities: tuple[str, ...]
    agreement_no: str | None
    agreement_from: date | None
    agreement_to: date | None
    updated_at: datetime


def region_info(region: Region) -> RegionInfo:
    return RegionInfo(region.code, region.name, tuple(region.cities), tuple(region.central_cities))


def outlet_info(outlet: Outlet) -> OutletInfo:
    return OutletInfo(outlet.code, outlet.name, outlet.region_code, OutletStatus(outlet.status), outlet.outlet_class,
                      tuple(outlet.cities), outlet.agreement_no, outlet.agreement_from, outlet.agreement_to,
                      outlet.updated_at)


def list_regions(session: Session) -> list[RegionInfo]:
    return [region_info(r) for r in session.scalars(select(Region).order_by(Region.code))]


def get_region(session: Session, code: str, *, field: str | None = None) -> Region:
    """Raises: NotFoundError, or ValidationError naming `field` when the code comes from submitted data."""
    return _entry(session, Region, "region", code, field)


def save_region(session: Session, clock: Clock, *, actor: Actor, code: str, name: str, cities: Iterable[str],
                central_cities: Iterable[str], create: bool) -> RegionInfo:
    """Create (or replace the name and cities of) a region (admins only).

    Raises: PermissionDeniedError, ValidationError, ConflictError (create: taken), NotFoundError (update).
    """
    require(actor, Permission.ADMINISTER)
    city_list, central = _cities(cities, "cities"), _cities(central_cities, "central_cities")
    if not set(central) <= set(city_list):
        raise ValidationError("central cities must be among the region's cities: "
                              + ", ".join(sorted(set(central) - set(city_list))), field="central_cities")
    _require_name(name)
    now = clock.now()
    if create:
        _require_code(code)
        if session.get(Region, code) is not None:
            raise ConflictError(f"region '{code}' already exists", field="code")
        region = Region(code=code, created_at=now)
        session.add(region)
    else:
        region = get_region(session, code)
    region.name, region.cities, region.central_cities, region.updated_at = name.strip(), city_list, central, now
    record_event(session, clock, actor=actor.username, event_type="region_created" if create else "region_updated",
                 data={"code": code, "name": region.name, "cities": city_list, "central_cities": central})
    session.flush()
    return region_info(region)


def list_outlets(session: Session, *, region_code: str | None = None, status: str | None = None,
                 city: str | None = None) -> list[OutletInfo]:
    query = select(Outlet).order_by(Outlet.region_code, Outlet.code)
    if region_code:
        query = query.where(Outlet.region_code == region_code)
    if status:
        query = query.where(Outlet.status == status)
    outlets = [outlet_info(o) for o in session.scalars(query)]
    return [o for o in outlets if city in o.cities] if city else outlets


def suggest_outlets(session: Session, *, region_code: str | None, city: str | None) -> list[OutletInfo]:
    """Active outlets a case of that region may go to, those serving the customer's city first."""
    if not region_code:
        return []
    active = list_outlets(session, region_code=region_code, status=OutletStatus.ACTIVE)
    return sorted(active, key=lambda o: (city not in o.cities, o.code))


def get_outlet(session: Session, code: str, *, field: str | None = None) -> Outlet:
    """Raises: NotFoundError, or ValidationError naming `field` when the code comes from submitted data."""
    return _entry(session, Outlet, "outlet", code, field)


def _entry(session: Session, table: type[Entry], kind: str, code: str, field: str | None) -> Entry:
    entry = session.get(table, code) if isinstance(code, str) else None
    if entry is None:
        if field is not None:
            raise ValidationError(f"no {kind} '{code}' in the register", field=field)
        raise NotFoundError(f"no {kind} '{code}'")
    return entry


def require_keeper(actor: Actor, region_code: str) -> None:
    """Admins keep the whole register; an RCC director bound to a region keeps that region's part.

    Raises: PermissionDeniedError.
    """
    if has(actor, Permission.ADMINISTER):
        return
    if KEEPER_GROUP in actor.groups and actor.region_code is not None and actor.region_code == region_code:
        return
    raise PermissionDeniedError(f"only admins and the RCC director of region '{region_code}' may change its "
                                "register", required_group=KEEPER_GROUP)


def require_reader_of_archive(actor: Actor, code: str) -> None:
    """An outlet's archive (staff, assessments, volumes) is for its own staff, the RCC and the CSD.

    Raises: NotFoundError for another outlet's staff (they do not learn its archive exists).
    """
    if actor.outlet_code is not None and actor.outlet_code != code:
        raise NotFoundError(f"no outlet '{code}'")


def add_outlet(session: Session, clock: Clock, *, actor: Actor, code: str, name: str, region_code: str,
               status: OutletStatus = OutletStatus.ACTIVE, **fields: Any) -> OutletInfo:
    """Enter an outlet in the register (`fields`: outlet_class, cities, agreement_no, agreement_from, agreement_to).

    Raises: PermissionDeniedError, ValidationError, ConflictError.
    """
    _require_code(code)
    region = get_region(session, region_code, field="region_code")
    require_keeper(actor, region.code)
    if session.get(Outlet, code) is not None:
        raise ConflictError(f"outlet '{code}' already exists", field="code")
    now = clock.now()
    outlet = Outlet(code=code, region_code=region.code, status=OutletStatus(status), cities=[], created_at=now)
    _apply(outlet, region, name=name, **fields)
    outlet.updated_at = now
    session.add(outlet)
    record_event(session, clock, actor=actor.username, event_type="outlet_created", data=_audit_of(outlet))
    session.flush()
    return outlet_info(outlet)


def update_outlet(session: Session, clock: Clock, *, actor: Actor, code: str, **fields: Any) -> OutletInfo:
    """Change an outlet's name, class, cities or agreement (not its status or region: see `outlet_standing`).

    Raises: NotFoundError, PermissionDeniedError, ValidationError.
    """
    outlet = get_outlet(session, code)
    region = get_region(session, outlet.region_code)
    require_keeper(actor, region.code)
    _apply(outlet, region, **{k: v for k, v in fields.items() if v is not None})
    outlet.updated_at = clock.now()
    record_event(session, clock, actor=actor.username, event_type="outlet_updated", data=_audit_of(outlet))
    session.flush()
    return outlet_info(outlet)


def _apply(outlet: Outlet, region: Region, *, name: str | None = None, outlet_class: str | None = None,
           cities: Iterable[str] | None = None, agreement_no: str | None = None,
           agreement_from: date | None = None, agreement_to: date | None = None) -> None:
    if name is not None:
        _require_name(name)
        outlet.name = name.strip()
    if outlet_class is not None:
        outlet.outlet_class = outlet_class.strip()[:50] or None
    if cities is not None:
        served = _cities(cities, "cities")
        outside = sorted(set(served) - set(region.cities))
        if outside and region.cities:
            raise ValidationError(f"region '{region.code}' does not cover: {', '.join(outside)}", field="cities")
        outlet.cities = served
    if agreement_no is not None:
        outlet.agreement_no = agreement_no.strip()[:100] or None
    if agreement_from is not None:
        outlet.agreement_from = agreement_from
    if agreement_to is not None:
        outlet.agreement_to = agreement_to
    if outlet.agreement_from and outlet.agreement_to and outlet.agreement_to < outlet.agreement_from:
        raise ValidationError("the agreement ends before it starts", field="agreement_to")


def _audit_of(outlet: Outlet) -> dict[str, Any]:
    return {"code": outlet.code, "name": outlet.name, "region_code": outlet.region_code, "status": outlet.status,
            "outlet_class": outlet.outlet_class, "cities": list(outlet.cities), "agreement_no": outlet.agreement_no,
            "agreement_from": outlet.agreement_from.isoformat() if outlet.agreement_from else None,
            "agreement_to": outlet.agreement_to.isoformat() if outlet.agreement_to else None}


def _require_code(code: str) -> None:
    if not isinstance(code, str) or not CODE.match(code):
        raise ValidationError("a code is 1-50 letters, digits, '_' or '-', starting with a letter or digit",
                              field="code")


def _require_name(name: str) -> None:
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise ValidationError("a name of 1-200 characters is required", field="name")


def _cities(cities: Iterable[str], field: str) -> list[str]:
    found: list[str] = []
    for city in cities:
        if not isinstance(city, str) or not city.strip() or len(city) > 100:
            raise ValidationError("each city is a name of 1-100 characters", field=field)
        if city.strip() not in found:
            found.append(city.strip())
    return found
