"""Form fields that name the register: a region, an outlet to dispatch to, an outlet that is still in
the network, or a new outlet's code.

A form marks such a field with `"x-register"`; what the approver submits there is checked against the
register before the case moves, so a case is never dispatched to an outlet that is not active, nor to
an outlet of another region, and nothing is stored when the check fails.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from engine.errors import ValidationError
from engine.network import get_outlet, get_region, suggest_outlets
from engine.states import LIVING_OUTLET, OutletStatus
from engine.tables import Outlet

REGION, OUTLET, LIVING, NEW_OUTLET = "region", "outlet", "living-outlet", "new-outlet"
KINDS = (REGION, OUTLET, LIVING, NEW_OUTLET)


def register_fields(schema: dict[str, Any] | None) -> dict[str, str]:
    """The form's fields that name the register, with what they name."""
    properties = (schema or {}).get("properties", {})
    return {name: spec["x-register"] for name, spec in properties.items()
            if isinstance(spec, dict) and spec.get("x-register") in KINDS}


def check_register_fields(session: Session, schema: dict[str, Any] | None, data: dict[str, Any], *,
                          case_region: str | None) -> None:
    """Raises: ValidationError naming the field whose value the register does not allow."""
    fields = register_fields(schema)
    region = data.get("region") if isinstance(data.get("region"), str) else case_region
    for name, kind in fields.items():
        value = data.get(name)
        if value is None:
            continue
        if kind == REGION:
            get_region(session, value, field=name)
        elif kind == NEW_OUTLET:
            if session.get(Outlet, value) is not None:
                raise ValidationError(f"outlet code '{value}' is already in the register; choose another",
                                      field=name)
        else:
            outlet = get_outlet(session, value, field=name)
            wanted = {OutletStatus.ACTIVE} if kind == OUTLET else LIVING_OUTLET
            if outlet.status not in wanted:
                raise ValidationError(f"outlet '{value}' is {outlet.status}; only an active outlet takes cases"
                                      if kind == OUTLET else f"outlet '{value}' is {outlet.status} already",
                                      field=name, outlet_status=outlet.status)
            if region is not None and outlet.region_code != region:
                raise ValidationError(f"outlet '{value}' belongs to region '{outlet.region_code}', and this case "
                                      f"to region '{region}'; choose an outlet of the case's region", field=name)


def dispatch_suggestions(session: Session, schema: dict[str, Any] | None, *, region: str | None,
                         city: str | None) -> list[dict[str, Any]]:
    """The active outlets an approver may dispatch this case to, those serving the customer's city first."""
    if OUTLET not in register_fields(schema).values():
        return []
    return [{"code": o.code, "name": o.name, "cities": list(o.cities), "serves_city": city in o.cities}
            for o in suggest_outlets(session, region_code=region, city=city)]
