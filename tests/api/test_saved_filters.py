"""Issue 16's inbox: rows that tell cases apart (serial number, product model, outlet), the overdue
filter, and saved filters per person (save, list, replace, delete; bad input refused with its field)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engine.clock import FrozenClock
from engine.register_tables import Outlet
from engine.saved_filter_tables import SavedFilter
from engine.saved_filters import MAX_FILTERS_PER_USER
from tests.api.conftest import Desk
from tests.api.test_complaint_handling import CUSTOMER_INTAKE, DISPATCH
from tests.api.test_outlet_onboarding import REGISTRATION


def _saved(factory: sessionmaker[Session]) -> list[tuple[str, str, dict[str, str]]]:
    with factory() as session:
        return [(f.username, f.name, f.query) for f in session.scalars(select(SavedFilter).order_by(SavedFilter.name))]


def test_inbox_rows_carry_serial_number_product_model_and_outlet_name(desk: Desk,
                                                                      factory: sessionmaker[Session]) -> None:
    instance_id = desk.start("rcc_agent", "complaint_handling", CUSTOMER_INTAKE, business_key="TS-2026-0001")
    if "dispatch_outlet" in desk.waiting(instance_id):
        desk.work("rcc_agent", instance_id, "dispatch_outlet", DISPATCH)
    with factory() as session:
        outlet_name = session.scalar(select(Outlet.name).where(Outlet.code == "HD-001"))
    assert outlet_name
    rows = [t for t in desk.queue("outlet") if t["instance_id"] == instance_id]
    assert rows, "the dispatched complaint waits in the outlet's queue"
    assert {(t["serial_number"], t["product_model"], t["outlet_code"], t["outlet_name"]) for t in rows} == {
        ("SN-2025-000123", "KFR-35GW", "HD-001", outlet_name)}


def test_overdue_filter_lists_only_tasks_past_their_due_date(desk: Desk, clock: FrozenClock) -> None:
    desk.start("outlet", "outlet_onboarding", REGISTRATION, business_key="HD-LATE")
    assert desk.queue("rcc_director", overdue="true") == []
    clock.advance(timedelta(days=60))  # past camunda:dueDate of the RCC review
    desk.start("outlet", "outlet_onboarding", REGISTRATION, business_key="HD-NEW")
    assert [t["business_key"] for t in desk.queue("rcc_director", overdue="true")] == ["HD-LATE"]
    assert len(desk.queue("rcc_director")) == 2


def test_saved_filters_are_saved_listed_replaced_and_deleted_per_person(desk: Desk,
                                                                        factory: sessionmaker[Session]) -> None:
    client, director = desk.client, desk.login("rcc_director")
    saved = client.post("/api/my/filters", headers=director,
                        json={"name": " 逾期 ", "query": {"due": "overdue", "process": "outlet_onboarding", "q": ""}})
    assert saved.status_code == 200, saved.text
    assert (saved.json()["name"], saved.json()["query"]) == ("逾期", {"due": "overdue", "process": "outlet_onboarding"})
    again = client.post("/api/my/filters", headers=director, json={"name": "逾期", "query": {"show": "mine"}})
    assert again.json()["filter_id"] == saved.json()["filter_id"]  # the same name replaces its query
    client.post("/api/my/filters", headers=desk.login("rcc_agent"), json={"name": "逾期", "query": {"q": "HD"}})
    mine = client.get("/api/my/filters", headers=director).json()
    assert [(f["name"], f["query"]) for f in mine] == [("逾期", {"show": "mine"})]  # not the agent's
    # Another person's filter is not there for them to delete.
    assert client.delete(f"/api/my/filters/{saved.json()['filter_id']}",
                         headers=desk.login("rcc_agent")).status_code == 404
    assert client.delete(f"/api/my/filters/{saved.json()['filter_id']}", headers=director).status_code == 204
    assert _saved(factory) == [("rcc_agent", "逾期", {"q": "HD"})]


def test_bad_saved_filters_are_refused_naming_the_field_and_change_nothing(desk: Desk,
                                                                           factory: sessionmaker[Session]) -> None:
    client, director = desk.client, desk.login("rcc_director")
    cases = [
        ({"name": "   ", "query": {}}, "invalid-filter-name", "name"),
        ({"name": "x" * 81, "query": {}}, "invalid-filter-name", "name"),
        ({"name": "x" * 201, "query": {}}, "invalid-request", "name"),
        ({"name": "a", "query": {"colour": "red"}}, "invalid-filter-field", "query.colour"),
        ({"name": "a", "query": {"q": "x" * 201}}, "invalid-filter-field", "query.q"),
        ({"name": "a", "query": {"q": 3}}, "invalid-request", "q"),
        ({"name": "a", "query": {}, "colour": "red"}, None, None),  # an unknown top-level key is ignored
    ]
    for body, slug, field in cases:
        response = client.post("/api/my/filters", headers=director, json=body)
        if slug is None:
            assert response.status_code == 200
            client.delete(f"/api/my/filters/{response.json()['filter_id']}", headers=director)
            continue
        assert response.status_code == 422, (body, response.text)
        problem = response.json()
        assert problem["type"].endswith(slug), problem
        fields = [problem.get("field")] + [e.get("field") for e in problem.get("errors", [])]
        assert field in fields, problem
    assert _saved(factory) == []
    for n in range(MAX_FILTERS_PER_USER):
        assert client.post("/api/my/filters", headers=director, json={"name": f"f{n:02}"}).status_code == 200
    too_many = client.post("/api/my/filters", headers=director, json={"name": "one more"})
    assert too_many.status_code == 422 and too_many.json()["type"].endswith("too-many-saved-filters")
    assert too_many.json()["field"] == "name"
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(SavedFilter)) == MAX_FILTERS_PER_USER
    assert client.delete("/api/my/filters/not-a-uuid", headers=director).status_code == 422
