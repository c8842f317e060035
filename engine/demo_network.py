"""The demo network `make run` shows a newcomer: two regions, four outlets, their staff and a dozen customers.

Loaded from `demo/` when demo users are on; what already exists is left as it is, so a restart
changes nothing and an admin's edits survive.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.clock import Clock
from engine.identity import ADMIN_GROUP, DEMO_PASSWORD, Actor, add_user
from engine.network import add_outlet, save_region
from engine.register_import import import_customers
from engine.tables import Customer, Outlet, Region, User

SYSTEM = Actor("system", frozenset({ADMIN_GROUP}))


def sync_demo_network(session: Session, clock: Clock, directory: Path, *, customers: bool = True,
                      staff: bool = True) -> list[str]:
    """Create what is missing of `directory`/network.json (and customers.csv); returns the demo users' names.

    `staff=False` enters the regions and outlets only (the benchmarks: no password hashing).
    """
    network: dict[str, Any] = json.loads((directory / "network.json").read_text(encoding="utf-8"))
    for region in network["regions"]:
        if session.get(Region, region["code"]) is None:
            save_region(session, clock, actor=SYSTEM, create=True, **region)
    for outlet in network["outlets"]:
        if session.get(Outlet, outlet["code"]) is None:
            fields = {**outlet, "agreement_from": date.fromisoformat(outlet["agreement_from"])}
            add_outlet(session, clock, actor=SYSTEM, **fields)
    names = []
    for user in network["users"] if staff else []:
        names.append(user["username"])
        if session.scalar(select(User.user_id).where(User.username == user["username"])) is None:
            add_user(session, clock, actor=SYSTEM, password=DEMO_PASSWORD, is_demo=True, **user)
    if customers and session.scalar(select(Customer.customer_id).limit(1)) is None:
        import_customers(session, clock, actor=SYSTEM, path=directory / "customers.csv")
    session.flush()
    return names
