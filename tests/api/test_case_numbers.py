"""Case numbers: a case started without a business key gets its process's next number, such as
TS-2026-000001, counted per prefix and year in the business calendar's zone; a typed key is kept."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from engine.clock import FrozenClock
from tests.api.conftest import Desk
from tests.api.test_complaint_handling import CUSTOMER_INTAKE
from tests.api.test_outlet_onboarding import REGISTRATION


def _number(desk: Desk, instance_id: str, prefix: str, year: int) -> int:
    """The count in a case's number, checking its shape (the counters outlive one test)."""
    key = str(desk.instance(instance_id)["business_key"])
    match = re.fullmatch(rf"{prefix}-{year}-(\d{{6}})", key)
    assert match, key
    return int(match.group(1))


def test_cases_are_numbered_per_process_and_year(desk: Desk, clock: FrozenClock) -> None:
    year = clock.now().year
    first = _number(desk, desk.start("rcc_agent", "complaint_handling", CUSTOMER_INTAKE), "TS", year)
    onboarding = _number(desk, desk.start("outlet", "outlet_onboarding", REGISTRATION), "WD", year)
    second = _number(desk, desk.start("rcc_agent", "complaint_handling", CUSTOMER_INTAKE), "TS", year)
    assert second == first + 1 and onboarding >= 1  # each prefix counts on its own
    typed = desk.start("rcc_agent", "complaint_handling", CUSTOMER_INTAKE, business_key="800-热线-42")
    assert desk.instance(typed)["business_key"] == "800-热线-42"
    after_typed = _number(desk, desk.start("rcc_agent", "complaint_handling", CUSTOMER_INTAKE), "TS", year)
    assert after_typed == second + 1  # a typed key takes no number

    # The year turns at midnight in Shanghai, not in UTC: 16:00 UTC on 31 December is already 1 January.
    clock.set(datetime(year + 5, 12, 31, 16, 0, tzinfo=UTC))
    assert _number(desk, desk.start("rcc_agent", "complaint_handling", CUSTOMER_INTAKE), "TS", year + 6) == 1


def test_a_refused_start_takes_no_number(desk: Desk, clock: FrozenClock) -> None:
    year = clock.now().year
    before = _number(desk, desk.start("rcc_agent", "complaint_handling", CUSTOMER_INTAKE), "TS", year)
    refused = desk.client.post("/api/instances", headers=desk.login("rcc_agent"),
                               json={"definition_key": "complaint_handling", "variables": {"complaint_channel": 7}})
    assert refused.status_code == 422
    after = _number(desk, desk.start("rcc_agent", "complaint_handling", CUSTOMER_INTAKE), "TS", year)
    assert after == before + 1
