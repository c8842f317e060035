"""已办 and 我发起的 through the API: each person's own completed tasks and started cases, newest
first, each with where its case is now, and the navigation's counts."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.clock import FrozenClock
from engine.register_tables import Outlet
from tests.api.conftest import Desk
from tests.api.test_case_moves import INSPECTED
from tests.api.test_outlet_onboarding import REGISTRATION
from tests.api.test_return_exchange import REQUEST, with_invoice


def _get(desk: Desk, user: str, path: str) -> Any:
    answer = desk.client.get(path, headers=desk.login(user))
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_done_and_started_lists_say_where_each_case_is(desk: Desk, clock: FrozenClock) -> None:
    first = desk.start("outlet", "outlet_onboarding", REGISTRATION, business_key="mine-1")
    clock.advance(timedelta(minutes=1))
    second = desk.start("outlet", "outlet_onboarding", REGISTRATION, business_key="mine-2")
    decided = desk.task_of("rcc_director", first, "rcc_review")["task_id"]
    answer = desk.client.post(f"/api/tasks/{decided}/decide", headers=desk.login("rcc_director"),
                              json={"outcome": "approve"})
    assert answer.status_code == 200, answer.text

    done = _get(desk, "rcc_director", "/api/my/done")
    assert done["total"] == 1
    [item] = done["items"]
    assert (item["task"]["task_id"], item["task"]["status"]) == (decided, "completed")
    assert item["now_at"] == [{"name": "技术管理科审核 / Technical section review", "assignee": None,
                               "groups": ["tech_section"]}]

    started = _get(desk, "outlet", "/api/my/started")
    assert [c["instance_id"] for c in started["items"]] == [second, first]  # newest first
    assert [s["name"] for s in started["items"][1]["now_at"]] == ["技术管理科审核 / Technical section review"]
    assert started["items"][0]["now_at"][0]["groups"] == ["rcc_director"]

    assert _get(desk, "outlet", "/api/my/counts") == {"open": 0, "open_capped": False, "done": 0,
                                                      "started_running": 2}
    assert _get(desk, "rcc_director", "/api/my/counts") == {"open": 1, "open_capped": False, "done": 1,
                                                            "started_running": 0}
    # Nobody sees another person's lists.
    assert _get(desk, "tech_section", "/api/my/done")["items"] == []
    assert _get(desk, "rcc_director", "/api/my/started")["items"] == []


def test_the_lists_page_and_refuse_bad_paging(desk: Desk) -> None:
    for user in ("outlet", "admin"):
        assert _get(desk, user, "/api/my/done?limit=1&offset=0")["limit"] == 1
    for bad in ("limit=0", "limit=501", "offset=-1", "limit=x"):
        answer = desk.client.get(f"/api/my/started?{bad}", headers=desk.login("outlet"))
        assert answer.status_code == 422 and answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["errors"][0]["field"] in ("limit", "offset")


def _inspected_return(desk: Desk) -> str:
    """A return started and inspected by the outlet: a case in its 我发起的, a task in its 已办."""
    instance_id = desk.start("outlet", "return_exchange", with_invoice(desk, "outlet", REQUEST),
                             business_key=f"TH-{uuid.uuid4().hex[:6]}")
    desk.work("outlet", instance_id, "inspect_product", INSPECTED)
    return instance_id


def test_done_and_started_rows_carry_serial_number_product_model_and_outlet_name(
        desk: Desk, factory: sessionmaker[Session]) -> None:
    instance_id = _inspected_return(desk)
    with factory() as session:
        outlet_name = session.scalar(select(Outlet.name).where(Outlet.code == REQUEST["outlet_code"]))
    marks = (REQUEST["serial_number"], REQUEST["product_model"], REQUEST["outlet_code"], outlet_name)
    [done] = _get(desk, "outlet", "/api/my/done")["items"]
    assert done["task"]["instance_id"] == instance_id
    assert tuple(done["task"][k] for k in ("serial_number", "product_model", "outlet_code", "outlet_name")) == marks
    [started] = _get(desk, "outlet", "/api/my/started")["items"]
    assert tuple(started[k] for k in ("serial_number", "product_model", "outlet_code", "outlet_name")) == marks
    # The task itself too (the task page's case summary names the outlet by it).
    task = _get(desk, "outlet", f"/api/tasks/{done['task']['task_id']}")
    assert (task["outlet_code"], task["outlet_name"]) == (REQUEST["outlet_code"], outlet_name)


def test_the_lists_cost_the_same_statements_for_one_row_as_for_three(desk: Desk, statements: list[str]) -> None:
    """The marks are joined into the page's own statement: no statement per row."""
    def cost(path: str) -> int:
        _get(desk, "outlet", path)  # warm: the caller's token and actor are read once, then cached
        statements.clear()
        assert len(_get(desk, "outlet", path)["items"]) == rows
        return len(statements)

    rows = 1
    _inspected_return(desk)
    one = {path: cost(path) for path in ("/api/my/done", "/api/my/started")}
    rows = 3
    _inspected_return(desk)
    _inspected_return(desk)
    assert {path: cost(path) for path in one} == one
