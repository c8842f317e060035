"""The organisation as data, end to end through HTTP: a complaint dispatched to one outlet of its
region and seen only by those it concerns; the register changed by onboarding and revocation; the
customer archive listing every case of a serial number."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api.auth import issue_token
from api.settings import Settings
from api.web.session import SESSION_COOKIE
from engine.clock import FrozenClock
from tests.api.conftest import Desk
from tests.api.test_complaint_handling import CUSTOMER_INTAKE, REPAIRED, _complain, _visit_and_feedback
from tests.api.test_outlet_onboarding import (
    AGREEMENT,
    APPROVE_CSD,
    APPROVE_RCC,
    APPROVE_TECH,
    CERTIFICATION,
    CONFIRMATION,
    _apply,
    _run_probation,
)
from tests.api.test_outlet_revocation import CLEARANCE, COMPANY_PROPOSAL
from tests.api.test_return_exchange import REQUEST, with_invoice

OUTSIDERS = ("hd002.engineer", "hb001.engineer", "hb002.engineer")  # another outlet of region east; region north


def _intake(**changes: Any) -> dict[str, Any]:
    variables = {**CUSTOMER_INTAKE, "customer_city": "上海", **changes}
    variables.pop("outlet_code", None)
    return variables


def _dispatch_task(desk: Desk, instance_id: str) -> dict[str, Any]:
    return desk.task_of("east.agent", instance_id, "dispatch_outlet")


def test_complaint_dispatched_to_one_outlet_is_seen_only_by_those_it_concerns(desk: Desk, client: TestClient) -> None:
    instance_id = desk.start("east.agent", "complaint_handling", _intake(), business_key="TS-2026-0100")
    dispatch = _dispatch_task(desk, instance_id)
    # The region's agent dispatches; the other region's agent has nothing to dispatch.
    assert desk.queue("north.agent") == []
    detail = client.get(f"/api/tasks/{dispatch['task_id']}", headers=desk.login("east.agent")).json()
    suggested = [(s["code"], s["serves_city"]) for s in detail["outlet_suggestions"]]
    assert suggested == [("HD-001", True), ("HD-002", False)]  # active outlets of east, Shanghai's first

    # Refused, and nothing changes: an outlet of another region, an unknown one, a suspended one.
    suspended = client.post("/api/outlets/HD-002/status", headers=desk.login("admin"),
                            json={"status": "suspended", "reason": "整改 / under review"})
    assert suspended.status_code == 200 and suspended.json()["status"] == "suspended"
    claimed = client.post(f"/api/tasks/{dispatch['task_id']}/claim", headers=desk.login("east.agent"))
    assert claimed.status_code == 200
    for outlet, reason in (("HB-001", "region 'north'"), ("XX-999", "no outlet"), ("HD-002", "suspended")):
        refused = client.post(f"/api/tasks/{dispatch['task_id']}/complete", headers=desk.login("east.agent"),
                              json={"data": {"outlet_code": outlet}})
        assert refused.status_code == 422, refused.text
        assert refused.json()["field"] == "outlet_code" and reason in refused.json()["detail"]
    assert desk.waiting(instance_id) == ["dispatch_outlet"]

    done = client.post(f"/api/tasks/{dispatch['task_id']}/complete", headers=desk.login("east.agent"),
                       json={"data": {"outlet_code": "HD-001"}})
    assert done.status_code == 200, done.text
    [repair] = desk.queue("hd001.engineer")
    assert (repair["element_id"], repair["outlet_code"], repair["region"]) == ("onsite_repair", "HD-001", "east")
    for outsider in OUTSIDERS:
        headers = desk.login(outsider)
        assert desk.queue(outsider) == []
        assert client.get(f"/api/tasks/{repair['task_id']}", headers=headers).status_code == 404
        assert client.post(f"/api/tasks/{repair['task_id']}/claim", headers=headers).status_code == 404
        assert client.get(f"/api/instances/{instance_id}", headers=headers).status_code == 404
        assert client.get(f"/api/instances/{instance_id}/history", headers=headers).status_code == 404
    # Region north's director does not see it; region east's and the CSD head do.
    north = desk.login("north.director")
    assert client.get(f"/api/instances/{instance_id}", headers=north).status_code == 404
    assert instance_id not in [i["instance_id"] for i in client.get("/api/instances", headers=north).json()["items"]]
    for reader in ("east.director", "csd_head"):
        assert client.get(f"/api/instances/{instance_id}", headers=desk.login(reader)).status_code == 200
        listed = client.get("/api/instances", headers=desk.login(reader)).json()["items"]
        assert instance_id in [i["instance_id"] for i in listed]


def test_outlet_declines_and_the_rcc_dispatches_again(desk: Desk, client: TestClient) -> None:
    instance_id = desk.start("east.agent", "complaint_handling", _intake(customer_city="杭州"))
    desk.work("east.agent", instance_id, "dispatch_outlet", {"outlet_code": "HD-001"})
    unreasoned = {"declined": True, "onsite_resolved": False}
    task = desk.task_of("hd001.engineer", instance_id, "onsite_repair")
    client.post(f"/api/tasks/{task['task_id']}/claim", headers=desk.login("hd001.engineer"))
    refused = client.post(f"/api/tasks/{task['task_id']}/complete", headers=desk.login("hd001.engineer"),
                          json={"data": unreasoned})
    assert refused.status_code == 422 and "decline_reason" in refused.text
    desk.work("hd001.engineer", instance_id, "onsite_repair",
              {**unreasoned, "decline_reason": "顾客在杭州，本网点不服务 / the customer is in Hangzhou"})
    again = _dispatch_task(desk, instance_id)
    detail = client.get(f"/api/tasks/{again['task_id']}", headers=desk.login("east.agent")).json()
    assert detail["outlet_suggestions"][0]["code"] == "HD-002"  # serves Hangzhou
    desk.work("east.agent", instance_id, "dispatch_outlet", {"outlet_code": "HD-002"})
    assert desk.queue("hd001.engineer") == []
    desk.work("hd002.engineer", instance_id, "onsite_repair", REPAIRED)
    history = desk.history(instance_id)
    dispatched = [e["data"]["submitted"]["outlet_code"] for e in history
                  if e["event_type"] == "task_completed" and e["data"]["element"] == "dispatch_outlet"]
    assert dispatched == ["HD-001", "HD-002"]


def test_onboarding_enters_the_outlet_and_probation_makes_it_active(desk: Desk, client: TestClient,
                                                                      factory: sessionmaker[Session],
                                                                      clock: FrozenClock) -> None:
    instance_id = _apply(desk)
    desk.work("rcc_director", instance_id, "rcc_review", APPROVE_RCC)
    desk.work("tech_section", instance_id, "tech_review", APPROVE_TECH)
    desk.work("csd_head", instance_id, "csd_approval", APPROVE_CSD)
    # An agreement for a code already in the register is refused before anything moves.
    issue = desk.task_of("rcc_director", instance_id, "issue_agreement")
    client.post(f"/api/tasks/{issue['task_id']}/claim", headers=desk.login("rcc_director"))
    taken = client.post(f"/api/tasks/{issue['task_id']}/complete", headers=desk.login("rcc_director"),
                        json={"data": {**AGREEMENT, "outlet_code": "HD-001"}})
    assert taken.status_code == 422 and taken.json()["field"] == "outlet_code", taken.text
    desk.work("rcc_director", instance_id, "issue_agreement", AGREEMENT)
    outlet = client.get("/api/outlets/HD-101", headers=desk.login("outlet")).json()
    assert (outlet["status"], outlet["region_code"], outlet["agreement_no"]) == ("probation", "east", "TX-2026-001")
    # The applicant now works for the new outlet, and still sees its case.
    users = client.get("/api/users", headers=desk.login("admin")).json()
    assert [(u["outlet_code"], u["region_code"]) for u in users if u["username"] == "outlet"] == [("HD-101", "east")]
    desk.work("outlet", instance_id, "confirm_agreement", CONFIRMATION)
    desk.work("training", instance_id, "engineer_certification", CERTIFICATION)
    _run_probation(desk, factory, clock, instance_id)
    desk.work("rcc_director", instance_id, "probation_assessment",
              {"probation_passed": True, "assessment_score": 92, "assessment_notes": "合格"})
    assert client.get("/api/outlets/HD-101", headers=desk.login("outlet")).json()["status"] == "active"
    archive = client.get("/api/outlets/HD-101/archive", headers=desk.login("east.director")).json()
    assert [(a["passed"], a["score"]) for a in archive["assessments"]] == [(True, 92)]
    assert [s["name"] for s in archive["staff"]] == ["李强"]  # the engineer certified during probation
    assert archive["onboarding_instance_id"] == instance_id
    assert client.get("/api/outlets/HD-101/archive", headers=desk.login("hd001.engineer")).status_code == 404
    changes = [e["data"] for e in desk.history(instance_id) if e["event_type"] == "outlet_status_changed"]
    assert [(c["previous_status"], c["status"]) for c in changes] == [("probation", "active")]


def test_revocation_revokes_the_outlet_disables_its_staff_and_returns_its_work(desk: Desk,
                                                                               client: TestClient) -> None:
    complaint = desk.start("east.agent", "complaint_handling", _intake())
    desk.work("east.agent", complaint, "dispatch_outlet", {"outlet_code": "HD-001"})
    repair = desk.task_of("hd001.engineer", complaint, "onsite_repair")
    assert client.post(f"/api/tasks/{repair['task_id']}/claim",
                       headers=desk.login("hd001.engineer")).status_code == 200

    revocation = desk.start("rcc_director", "outlet_revocation", COMPANY_PROPOSAL, business_key="HD-001")
    desk.work("rcc_director", revocation, "rcc_confirm", {"rcc_confirmed": True})
    desk.work("tech_section", revocation, "tech_confirm", {"tech_confirmed": True})
    desk.work("csd_head", revocation, "csd_approve", {"csd_approved": True})
    desk.work("rcc_settlement", revocation, "clear_accounts", CLEARANCE)

    assert client.get("/api/outlets/HD-001", headers=desk.login("admin")).json()["status"] == "revoked"
    login = client.post("/api/auth/token", data={"username": "hd001.engineer", "password": "demo"})
    assert login.status_code == 401
    # The open repair is back in the RCC's queue, unclaimed; the revoked outlet's archive stays.
    returned = desk.task_of("east.agent", complaint, "onsite_repair")
    assert returned["assignee"] is None and "rcc_agent" in returned["candidate_groups"]
    history = desk.history(revocation)
    change = [e["data"] for e in history if e["event_type"] == "outlet_status_changed"]
    assert change[0]["users_disabled"] == ["hd001.engineer"] and change[0]["tasks_returned"] == [repair["task_id"]]
    # A revoked outlet takes no further revocation, and no dispatch.
    refused = client.post("/api/instances", headers=desk.login("rcc_director"),
                          json={"definition_key": "outlet_revocation", "variables": COMPANY_PROPOSAL})
    assert refused.status_code == 422 and refused.json()["field"] == "outlet_code"


def test_customer_page_lists_complaint_and_return_of_one_serial_number(desk: Desk, client: TestClient) -> None:
    admin = desk.login("admin")
    created = client.post("/api/customers", headers=admin, json={
        "name": "张三", "phone": "138-0013-8000", "city": "上海", "region_code": "east",
        "products": [{"serial_number": "SN-2025-000123", "model": "KFR-35GW", "purchase_date": "2025-11-20"}]})
    assert created.status_code == 201, created.text
    customer_id = created.json()["customer_id"]
    taken = client.post("/api/customers", headers=admin, json={
        "name": "李四", "phone": "139-0000-0000", "products": [{"serial_number": "SN-2025-000123", "model": "X"}]})
    assert taken.status_code == 409 and taken.json()["field"] == "serial_number"
    twice = client.post("/api/customers", headers=admin, json={"name": "王五", "phone": "137-0000-0000", "products": [
        {"serial_number": "SN-X", "model": "A"}, {"serial_number": "SN-X", "model": "B"}]})
    assert twice.status_code == 201 and len(twice.json()["products"]) == 1  # the same product named twice
    unknown = client.post("/api/customers", headers=admin, json={"name": "王五", "phone": "137", "region_code": "west"})
    assert unknown.status_code == 422 and unknown.json()["field"] == "region_code"
    assert len(client.get("/api/customers", headers=admin).json()) == 2  # refused requests stored nothing
    assert client.get("/api/customers", headers=admin, params={"search": "SN-2025-000123"}).json()[0]["name"] == "张三"

    complaint = desk.start("east.agent", "complaint_handling", _intake(), business_key="TS-2026-0200")
    returned = desk.start("outlet", "return_exchange",
                          with_invoice(desk, "outlet", {**REQUEST, "serial_number": "SN-2025-000123", "region": "east",
                                                        "outlet_code": "HD-001"}),
                          business_key="TH-2026-0200")
    cases = client.get(f"/api/customers/{customer_id}/cases", headers=desk.login("east.director")).json()
    assert {(c["definition_key"], c["business_key"]) for c in cases} == {
        ("complaint_handling", "TS-2026-0200"), ("return_exchange", "TH-2026-0200")}
    assert all(c["history_url"].endswith("/history") for c in cases)
    assert {c["instance_id"] for c in cases} == {complaint, returned}
    # The archive is the RCC's of the customer's region and the CSD's: not another region's, not an outlet's.
    assert client.get(f"/api/customers/{customer_id}", headers=desk.login("north.director")).status_code == 404
    assert client.get("/api/customers", headers=desk.login("hd001.engineer")).status_code == 403


def test_pages_show_the_network_and_a_customers_cases(desk: Desk, client: TestClient,
                                                       app_settings: Settings, clock: FrozenClock) -> None:
    admin = desk.login("admin")
    created = client.post("/api/customers", headers=admin, json={
        "name": "张三", "phone": "138-0013-8000", "region_code": "east",
        "products": [{"serial_number": "SN-2025-000123", "model": "KFR-35GW"}]}).json()
    desk.start("east.agent", "complaint_handling", _intake(), business_key="TS-2026-0300")

    def page(user: str, path: str) -> str:
        client.cookies.set(SESSION_COOKIE, issue_token(user, generation=0, secret=app_settings.secret_key,
                                                       now=clock.now(), minutes=60))
        response = client.get(path, headers={"Accept-Language": "en"})
        client.cookies.clear()
        assert response.status_code == 200, response.text
        return response.text

    network = page("east.director", "/network")
    assert "HD-001" in network and "HB-002" in network
    assert network.count('data-api="POST /api/outlets/HD-001/status"') >= 1  # east's director keeps east
    assert 'data-api="POST /api/outlets/HB-001/status"' not in network  # but not north
    listed = page("east.director", "/customers?search=张三")
    head, body = listed.split("</head>", 1)
    assert "<form" not in head and body.count('id="new-customer"') == 1  # the page's form once, in its body
    customer = page("east.director", f"/customers/{created['customer_id']}")
    assert "TS-2026-0300" in customer and "SN-2025-000123" in customer
    assert f'data-api="POST /api/customers/{created["customer_id"]}/products"' in customer
    added = client.post(f"/api/customers/{created['customer_id']}/products", headers=desk.login("east.agent"),
                        json={"serial_number": "SN-2026-000777", "model": "XQB80-Z"})
    assert added.status_code == 201 and len(added.json()["products"]) == 2
    again = client.post(f"/api/customers/{created['customer_id']}/products", headers=desk.login("east.agent"),
                        json={"serial_number": "SN-2026-000777", "model": "XQB80-Z"})
    assert again.status_code == 201 and len(again.json()["products"]) == 2  # already theirs: nothing changes
    dispatch = desk.task_of("east.agent", desk.queue("east.agent")[0]["instance_id"], "dispatch_outlet")
    task_page = page("east.agent", f"/tasks/{dispatch['task_id']}")
    assert 'data-testid="outlet-suggestions"' in task_page and "HD-001" in task_page


def test_an_outlets_monthly_volumes_count_its_finished_cases(desk: Desk, client: TestClient) -> None:
    instance_id = _complain(desk, business_key="TS-2026-0400")
    desk.work("outlet", instance_id, "onsite_repair", REPAIRED)
    _visit_and_feedback(desk, instance_id)
    assert desk.instance(instance_id)["status"] == "completed"
    volumes = client.get("/api/outlets/HD-001/archive", headers=desk.login("admin")).json()["monthly_volumes"]
    assert [month["complaint_handling"] for month in volumes.values()] == [1]
    assert client.get("/api/outlets/HD-002/archive", headers=desk.login("admin")).json()["monthly_volumes"] == {}


def test_an_rcc_director_keeps_the_register_of_their_own_region_only(desk: Desk, client: TestClient) -> None:
    east = desk.login("east.director")
    created = client.post("/api/outlets", headers=east, json={
        "code": "HD-003", "name": "南京鼓楼网点 / Nanjing Gulou outlet", "region_code": "east", "cities": ["南京"]})
    assert created.status_code == 201 and created.json()["status"] == "active", created.text
    for call in (client.post("/api/outlets", headers=east, json={"code": "HB-009", "name": "x", "region_code": "north"}),
                 client.post("/api/outlets/HB-001/status", headers=east, json={"status": "suspended", "reason": "x"}),
                 client.patch("/api/outlets/HB-001", headers=east, json={"outlet_class": "C"})):
        assert call.status_code == 403, call.text
    outside = client.post("/api/outlets", headers=east, json={"code": "HD-004", "name": "x", "region_code": "east",
                                                               "cities": ["北京"]})
    assert outside.status_code == 422 and outside.json()["field"] == "cities"
    # A revoked outlet stays revoked: the register refuses a move its statuses do not allow.
    admin = desk.login("admin")
    assert client.post("/api/outlets/HD-003/status", headers=admin,
                       json={"status": "revoked", "reason": "撤点 / revoked"}).status_code == 200
    back = client.post("/api/outlets/HD-003/status", headers=admin, json={"status": "active", "reason": "x"})
    assert back.status_code == 422 and "revoked" in back.json()["detail"]
    assert [o["code"] for o in client.get("/api/outlets", headers=east,
                                          params={"region_code": "east", "status": "active"}).json()] == [
        "HD-001", "HD-002"]


def test_customers_are_kept_within_the_rcc_region(desk: Desk, client: TestClient) -> None:
    agent = desk.login("east.agent")
    created = client.post("/api/customers", headers=agent, json={"name": "陈十三", "phone": "186-0000-1111",
                                                                  "region_code": "east"})
    assert created.status_code == 201, created.text
    customer_id = created.json()["customer_id"]
    added = client.patch(f"/api/customers/{customer_id}", headers=agent, json={
        "city": "上海", "products": [{"serial_number": "SN-2026-000999", "model": "BCD-450W"}]})
    assert added.status_code == 200 and [p["serial_number"] for p in added.json()["products"]] == ["SN-2026-000999"]
    moved = client.patch(f"/api/customers/{customer_id}", headers=agent, json={"region_code": "north"})
    assert moved.status_code == 403, moved.text
    assert client.post("/api/customers", headers=agent, json={"name": "x", "phone": "1", "region_code": "north"}
                       ).status_code == 403
    assert client.get(f"/api/customers/{customer_id}", headers=desk.login("north.agent")).status_code == 404
    assert [c["name"] for c in client.get("/api/customers", headers=desk.login("north.agent")).json()] == []
