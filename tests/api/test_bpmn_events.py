"""The BPMN events of docs/bpmn-support.md that race, travel between cases or jump: each through the API on both databases."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.clock import FrozenClock
from engine.invariants import check_invariants
from engine.signal_tables import SignalSubscription
from engine.states import TimerStatus
from engine.tables import MessageSubscription, Timer
from engine.timers import fire_due_timers
from tests.conftest import TEST_PROCESSES

Login = Callable[[str], dict[str, str]]


def _deploy(client: TestClient, login: Login, *names: str) -> None:
    for name in names:
        path: Path = TEST_PROCESSES / name
        response = client.post("/api/definitions", headers=login("designer"),
                               files={"file": (path.name, path.read_bytes(), "application/xml")})
        assert response.status_code == 201, response.text


def _start(client: TestClient, login: Login, key: str, variables: dict[str, Any] | None = None,
           business_key: str | None = None) -> dict[str, Any]:
    response = client.post("/api/instances", headers=login("admin"),
                           json={"definition_key": key, "variables": variables or {}, "business_key": business_key})
    assert response.status_code == 201, response.text
    return dict(response.json())


def _instance(client: TestClient, login: Login, instance_id: str) -> dict[str, Any]:
    response = client.get(f"/api/instances/{instance_id}", headers=login("admin"))
    assert response.status_code == 200, response.text
    return dict(response.json())


def _history(client: TestClient, login: Login, instance_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/instances/{instance_id}/history", headers=login("admin"))
    assert response.status_code == 200, response.text
    return list(response.json())


def _ended_at(client: TestClient, login: Login, instance_id: str) -> str:
    ended = [e for e in _history(client, login, instance_id) if e["event_type"] == "ended"]
    assert len(ended) == 1, ended
    return str(ended[0]["data"]["end_event"])


def _waits_for(factory: sessionmaker[Session], instance_id: str) -> tuple[list[str], list[tuple[str, str]]]:
    """The instance's message subscriptions (by catch event) and its timer rows (element, status)."""
    case = uuid.UUID(instance_id)
    with factory() as session:
        messages = sorted(session.scalars(select(MessageSubscription.element_id).where(
            MessageSubscription.instance_id == case)))
        timers = sorted((t.element_id, t.status) for t in session.scalars(select(Timer).where(
            Timer.instance_id == case)))
    return messages, timers


def _invariants_hold(factory: sessionmaker[Session]) -> None:
    with factory() as session:
        assert check_invariants(session).violations == []


def _message(client: TestClient, login: Login, name: str, business_key: str | None = None) -> Any:
    return client.post("/api/messages", headers=login("admin"),
                       json={"name": name, "business_key": business_key, "variables": {"answered_by": "customer"}})


def test_an_event_based_gateway_waits_on_its_messages_and_timer_and_the_first_message_wins(
        client: TestClient, login: Login, factory: sessionmaker[Session], clock: FrozenClock) -> None:
    _deploy(client, login, "quote_race.bpmn")
    started = _start(client, login, "quote_race", business_key="Q-1")
    assert started["status"] == "running"
    # Reached, the gateway registers every event it races: both messages and the timer.
    assert _waits_for(factory, started["instance_id"]) == (["accepted", "declined"],
                                                           [("lapsed", TimerStatus.PENDING)])
    delivered = _message(client, login, "quote_accepted", "Q-1")
    assert delivered.status_code == 200, delivered.text
    assert (delivered.json()["outcome"], delivered.json()["element_id"]) == ("resumed", "accepted")
    # The others are cancelled: no subscription is left, the timer row is closed and never fires.
    assert _waits_for(factory, started["instance_id"]) == ([], [("lapsed", TimerStatus.CANCELLED)])
    assert _message(client, login, "quote_declined", "Q-1").status_code == 404
    clock.advance(timedelta(hours=49))
    assert fire_due_timers(factory, clock) == 0
    instance = _instance(client, login, started["instance_id"])
    assert instance["status"] == "running" and instance["variables"]["answered_by"] == "customer"
    assert [t["element_id"] for t in instance["waiting_tasks"]] == ["repair"]
    done = [e["data"]["element"] for e in _history(client, login, started["instance_id"])
            if e["event_type"] == "element_completed"]
    assert done == ["start", "await_answer", "accepted"]
    _invariants_hold(factory)


def test_an_event_based_gateway_whose_timer_fires_first_cancels_its_messages(
        client: TestClient, login: Login, factory: sessionmaker[Session], clock: FrozenClock) -> None:
    _deploy(client, login, "quote_race.bpmn")
    started = _start(client, login, "quote_race", business_key="Q-2")
    clock.advance(timedelta(hours=47))
    assert fire_due_timers(factory, clock) == 0
    clock.advance(timedelta(hours=2))
    assert fire_due_timers(factory, clock) == 1
    assert _waits_for(factory, started["instance_id"]) == ([], [("lapsed", TimerStatus.FIRED)])
    assert _instance(client, login, started["instance_id"])["status"] == "completed"
    assert _ended_at(client, login, started["instance_id"]) == "closed_lapsed"
    history = _history(client, login, started["instance_id"])
    assert [e["data"]["element"] for e in history if e["event_type"] == "timer_fired"] == ["lapsed"]
    late = _message(client, login, "quote_accepted", "Q-2")
    assert late.status_code == 404, late.text
    assert "quote_accepted" in late.json()["detail"]


def test_a_message_and_the_timer_of_one_gateway_arriving_at_once_take_exactly_one_path(
        client: TestClient, login: Login, factory: sessionmaker[Session], clock: FrozenClock) -> None:
    _deploy(client, login, "quote_race.bpmn")
    cases = [_start(client, login, "quote_race", business_key=f"R-{n}")["instance_id"] for n in range(3)]
    clock.advance(timedelta(hours=49))  # every timer is due: the tick and the messages race for each case
    headers = login("admin")
    barrier, answers, fired = threading.Barrier(2), [], []

    def send_messages() -> None:
        barrier.wait()
        for n in range(3):
            answers.append(client.post("/api/messages", headers=headers,
                                       json={"name": "quote_declined", "business_key": f"R-{n}"}).status_code)

    def tick() -> None:
        barrier.wait()
        fired.append(fire_due_timers(factory, clock))

    threads = [threading.Thread(target=send_messages), threading.Thread(target=tick)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    fired.append(fire_due_timers(factory, clock))  # a case the tick walked past (locked) fires now
    assert set(answers) <= {200, 404, 409}
    for instance_id in cases:
        end = _ended_at(client, login, instance_id)
        assert end in ("closed_declined", "closed_lapsed")
        history = _history(client, login, instance_id)
        timer_fired = [e for e in history if e["event_type"] == "timer_fired"]
        received = [e for e in history if e["event_type"] == "message_received"]
        assert len(timer_fired) + len(received) == 1, history
        assert (end == "closed_lapsed") == bool(timer_fired)
        messages, timers = _waits_for(factory, instance_id)
        assert messages == [] and timers == [("lapsed", TimerStatus.FIRED if timer_fired else TimerStatus.CANCELLED)]
    assert sum(fired) == sum(1 for i in cases if _ended_at(client, login, i) == "closed_lapsed")
    assert answers.count(200) == sum(1 for i in cases if _ended_at(client, login, i) == "closed_declined")
    _invariants_hold(factory)


def test_messages_thrown_by_one_case_start_and_resume_another_in_the_same_step(
        client: TestClient, login: Login, factory: sessionmaker[Session]) -> None:
    _deploy(client, login, "parts_request_receiver.bpmn", "parts_request_sender.bpmn")
    sender = _start(client, login, "parts_request_sender", {"part_no": "C-7"}, business_key="SR-1")
    # The throw event starts the warehouse case, the send task and the message end event resume it.
    assert sender["status"] == "completed"
    history = _history(client, login, sender["instance_id"])
    sent = [(e["data"]["message"], e["data"]["outcome"], e["data"]["to_element"]) for e in history
            if e["event_type"] == "message_sent"]
    assert sent == [("parts_wanted", "started", "wanted"), ("repair_booked", "resumed", "await_booking"),
                    ("repair_done", "resumed", "await_done")]
    receiver_id = next(e["data"]["to_instance"] for e in history if e["event_type"] == "message_sent")
    receiver = _instance(client, login, receiver_id)
    assert receiver["status"] == "completed" and receiver["business_key"] == "SR-1"
    assert receiver["variables"]["part_no"] == "C-7"
    received = [e["data"]["element"] for e in _history(client, login, receiver_id) if e["event_type"] == "message_received"]
    assert received == ["await_booking", "await_done"]
    _invariants_hold(factory)


def test_a_thrown_message_no_case_waits_for_is_recorded_unmatched_and_the_sender_runs_on(
        client: TestClient, login: Login) -> None:
    _deploy(client, login, "parts_request_sender.bpmn")
    sender = _start(client, login, "parts_request_sender", business_key="SR-2")
    assert sender["status"] == "completed"
    unmatched = [e["data"] for e in _history(client, login, sender["instance_id"]) if e["event_type"] == "message_unmatched"]
    assert [d["message"] for d in unmatched] == ["parts_wanted", "repair_booked", "repair_done"]
    # The reason is the one POST /api/messages answers with.
    refused = client.post("/api/messages", headers=login("admin"), json={"name": "repair_booked", "business_key": "SR-2"})
    assert refused.status_code == 404 and unmatched[1]["reason"] == refused.json()["detail"]


def test_a_link_throw_event_goes_on_at_the_link_catch_event_of_its_name(client: TestClient, login: Login) -> None:
    _deploy(client, login, "link_jump.bpmn")
    for needs_parts, thrown_at in ((True, "go_repair_after_parts"), (False, "go_repair_now")):
        started = _start(client, login, "link_jump", {"needs_parts": needs_parts})
        # Not ended at the throw: the case waits at the repair after the catch.
        assert started["status"] == "running"
        instance = _instance(client, login, started["instance_id"])
        assert [t["element_id"] for t in instance["waiting_tasks"]] == ["repair"]
        done = [e["data"]["element"] for e in _history(client, login, started["instance_id"])
                if e["event_type"] == "element_completed"]
        assert done[-2:] == [thrown_at, "at_repair"]
        assert ("order_parts" in done) is needs_parts


def test_a_link_throw_event_without_its_catch_is_refused_naming_it(client: TestClient, login: Login) -> None:
    source = (TEST_PROCESSES / "link_jump.bpmn").read_text(encoding="utf-8").replace('name="repair"/>\n    </bpmn:intermediateCatchEvent>',
                                                                                    'name="elsewhere"/>\n    </bpmn:intermediateCatchEvent>')
    response = client.post("/api/definitions?dry_run=true", headers=login("designer"),
                           files={"file": ("link_jump.bpmn", source.encode(), "application/xml")})
    assert response.status_code == 422, response.text
    assert response.json()["element"] == "go_repair_now"
    assert "throws link 'repair', and no link catch event of that name" in response.json()["detail"]
    assert client.get("/api/definitions", headers=login("admin")).json() == []


def _signal_subscriptions(factory: sessionmaker[Session], instance_id: str) -> list[str]:
    with factory() as session:
        return sorted(session.scalars(select(SignalSubscription.element_id).where(
            SignalSubscription.instance_id == uuid.UUID(instance_id))))


def test_a_signal_reaches_every_waiting_boundary_event_and_starts_each_process_it_starts(
        client: TestClient, login: Login, factory: sessionmaker[Session]) -> None:
    _deploy(client, login, "recall_wait.bpmn", "recall_start.bpmn")
    waiting = [_start(client, login, "recall_wait")["instance_id"] for _ in range(2)]
    assert [_signal_subscriptions(factory, i) for i in waiting] == [["recall"], ["recall"]]
    # Someone who sees none of the cases reaches none of them.
    unseen = client.post("/api/signals", headers=login("outlet"), json={"name": "product_recall"})
    assert unseen.status_code == 200, unseen.text
    assert unseen.json()["resumed"] == []
    # It starts what the outlet may start, though: a process without starter groups.
    assert len(unseen.json()["started"]) == 1
    sent = client.post("/api/signals", headers=login("admin"),
                       json={"name": "product_recall", "variables": {"recall_no": "RC-9"}})
    assert sent.status_code == 200, sent.text
    assert sorted(sent.json()["resumed"]) == sorted(waiting)
    assert len(sent.json()["started"]) == 1
    for instance_id in waiting:
        assert _instance(client, login, instance_id)["variables"]["recall_no"] == "RC-9"
        assert _ended_at(client, login, instance_id) == "recalled"
        assert _signal_subscriptions(factory, instance_id) == []
    log_id = sent.json()["started"][0]
    log = _instance(client, login, log_id)
    assert (log["definition_key"], log["status"], log["variables"]["recall_no"]) == ("recall_start", "running", "RC-9")
    assert _signal_subscriptions(factory, log_id) == ["await_close"]
    closed = client.post("/api/signals", headers=login("admin"), json={"name": "recall_closed"})
    assert sorted(closed.json()["resumed"]) == sorted([log_id, unseen.json()["started"][0]])
    assert _ended_at(client, login, log_id) == "logged"
    # Nothing listens any more: a broadcast nobody hears is no error.
    again = client.post("/api/signals", headers=login("admin"), json={"name": "product_recall_2"})
    assert again.status_code == 200 and again.json() == {"resumed": [], "started": []}
    assert client.post("/api/signals", headers=login("admin"), json={"name": ""}).status_code == 422
    _invariants_hold(factory)


def test_a_signal_thrown_inside_a_case_reaches_the_other_cases_in_the_same_step(
        client: TestClient, login: Login, factory: sessionmaker[Session]) -> None:
    _deploy(client, login, "recall_wait.bpmn", "recall_thrower.bpmn")
    waiting = _start(client, login, "recall_wait")["instance_id"]
    thrower = _start(client, login, "recall_thrower")
    assert thrower["status"] == "completed"
    sent = [e["data"] for e in _history(client, login, thrower["instance_id"]) if e["event_type"] == "signal_sent"]
    assert [(d["signal"], d["resumed"]) for d in sent] == [("product_recall", [waiting])]
    assert _ended_at(client, login, waiting) == "recalled"
    _invariants_hold(factory)


def _complete(client: TestClient, login: Login, instance_id: str, element_id: str, data: dict[str, Any]) -> None:
    headers = login("rcc_director")
    task = next(t for t in _instance(client, login, instance_id)["waiting_tasks"] if t["element_id"] == element_id)
    assert client.post(f"/api/tasks/{task['task_id']}/claim", headers=headers).status_code == 200
    done = client.post(f"/api/tasks/{task['task_id']}/complete", headers=headers, json={"data": data})
    assert done.status_code == 200, done.text


def test_conditional_events_fire_when_a_later_step_makes_their_condition_true(
        client: TestClient, login: Login, factory: sessionmaker[Session]) -> None:
    _deploy(client, login, "pressure_watch.bpmn")
    started = _start(client, login, "pressure_watch", {"approved_amount": 0})
    instance_id = started["instance_id"]

    def finished() -> list[str]:
        return [e["data"]["element"] for e in _history(client, login, instance_id) if e["event_type"] == "element_completed"]

    _complete(client, login, instance_id, "measure", {"fee_approved": True, "approved_amount": 500})
    assert "too_high" not in finished() and "stop_observing" not in finished()
    waiting = [t["element_id"] for t in _instance(client, login, instance_id)["waiting_tasks"]]
    assert sorted(waiting) == ["measure_again", "observe"]
    _complete(client, login, instance_id, "measure_again", {"fee_approved": True, "approved_amount": 12000})
    # Made true by the measurement: the catch event goes on, the boundary event interrupts the observation.
    assert {"too_high", "alarmed", "stop_observing", "observation_stopped"} <= set(finished())
    instance = _instance(client, login, instance_id)
    assert instance["status"] == "completed" and instance["waiting_tasks"] == []
    cancelled = [e["data"]["element"] for e in _history(client, login, instance_id) if e["event_type"] == "task_cancelled"]
    assert cancelled == ["observe"]
    _invariants_hold(factory)


def test_a_non_interrupting_message_event_subprocess_runs_at_each_message_while_the_case_goes_on(
        client: TestClient, login: Login, factory: sessionmaker[Session]) -> None:
    _deploy(client, login, "customer_call_note.bpmn")
    instance_id = _start(client, login, "customer_call_note", business_key="CALL-1")["instance_id"]
    assert _waits_for(factory, instance_id) == (["call_received"], [])
    for n in (1, 2):
        called = client.post("/api/messages", headers=login("admin"),
                             json={"name": "customer_called", "business_key": "CALL-1", "variables": {"call": n}})
        assert called.status_code == 200, called.text
        assert (called.json()["outcome"], called.json()["element_id"]) == ("resumed", "call_received")
    history = _history(client, login, instance_id)
    assert [e["data"]["element"] for e in history if e["event_type"] == "element_completed"
            and e["data"]["element"] == "call_noted"] == ["call_noted", "call_noted"]
    # Not interrupting: the review still waits, and the case still listens.
    assert [t["element_id"] for t in _instance(client, login, instance_id)["waiting_tasks"]] == ["review"]
    assert _waits_for(factory, instance_id) == (["call_received"], [])
    _complete(client, login, instance_id, "review", {"fee_approved": True, "approved_amount": 5})
    assert _instance(client, login, instance_id)["status"] == "completed"
    assert _waits_for(factory, instance_id) == ([], [])
    _invariants_hold(factory)


def test_an_interrupting_message_event_subprocess_cancels_the_flow_it_interrupts_and_runs_once(
        client: TestClient, login: Login, factory: sessionmaker[Session], clock: FrozenClock) -> None:
    _deploy(client, login, "repair_cancel_request.bpmn")
    instance_id = _start(client, login, "repair_cancel_request", business_key="REP-9")["instance_id"]
    assert _waits_for(factory, instance_id) == (["withdrawal_received"], [("parts_wait", TimerStatus.PENDING)])
    withdrawn = client.post("/api/messages", headers=login("admin"), json={
        "name": "repair_withdrawn", "business_key": "REP-9", "variables": {"reason": "bought a new one"}})
    assert withdrawn.status_code == 200, withdrawn.text
    assert (withdrawn.json()["outcome"], withdrawn.json()["element_id"]) == ("resumed", "withdrawal_received")
    # The review and the timer of the interrupted flow are gone; only the withdrawal's step waits.
    instance = _instance(client, login, instance_id)
    assert [t["element_id"] for t in instance["waiting_tasks"]] == ["confirm_withdrawal"]
    assert instance["variables"]["reason"] == "bought a new one"
    messages, timers = _waits_for(factory, instance_id)
    assert messages == [] and all(status != TimerStatus.PENDING for _, status in timers)
    cancelled = sorted(e["data"]["element"] for e in _history(client, login, instance_id)
                       if e["event_type"] == "task_cancelled")
    assert "review" in cancelled
    # It interrupts once: a second withdrawal finds no case waiting for it.
    again = client.post("/api/messages", headers=login("admin"),
                        json={"name": "repair_withdrawn", "business_key": "REP-9", "variables": {}})
    assert again.status_code == 404, again.text
    clock.advance(timedelta(hours=49))
    fire_due_timers(factory, clock)
    _complete(client, login, instance_id, "confirm_withdrawal", {"fee_approved": True, "approved_amount": 0})
    assert _instance(client, login, instance_id)["status"] == "completed"
    assert _ended_at(client, login, instance_id) == "withdrawn"
    assert _waits_for(factory, instance_id)[0] == []
    _invariants_hold(factory)


def _fire(factory: sessionmaker[Session], clock: FrozenClock, hours: int) -> None:
    clock.advance(timedelta(hours=hours))
    fire_due_timers(factory, clock)


def test_timer_event_subprocesses_remind_beside_the_flow_then_interrupt_it(
        client: TestClient, login: Login, factory: sessionmaker[Session], clock: FrozenClock) -> None:
    _deploy(client, login, "review_escalation.bpmn")
    instance_id = _start(client, login, "review_escalation")["instance_id"]
    assert _waits_for(factory, instance_id)[1] == [("a_day_passed", TimerStatus.PENDING),
                                                    ("three_days_passed", TimerStatus.PENDING)]
    _fire(factory, clock, 25)
    # Not interrupting: the reminder ran once and the review still waits.
    completed = [e["data"]["element"] for e in _history(client, login, instance_id) if e["event_type"] == "element_completed"]
    assert completed.count("reminded") == 1
    assert [t["element_id"] for t in _instance(client, login, instance_id)["waiting_tasks"]] == ["review"]
    _fire(factory, clock, 48)
    # Interrupting: the review leaves the queue, the escalation takes its place.
    assert [t["element_id"] for t in _instance(client, login, instance_id)["waiting_tasks"]] == ["escalate"]
    assert "review" in [e["data"]["element"] for e in _history(client, login, instance_id)
                        if e["event_type"] == "task_cancelled"]
    _complete(client, login, instance_id, "escalate", {"fee_approved": True, "approved_amount": 0})
    assert _instance(client, login, instance_id)["status"] == "completed"
    assert _ended_at(client, login, instance_id) == "escalated"
    _invariants_hold(factory)


def test_a_flow_that_ends_first_cancels_the_timer_event_subprocesses_still_waiting(
        client: TestClient, login: Login, factory: sessionmaker[Session], clock: FrozenClock) -> None:
    _deploy(client, login, "review_escalation.bpmn")
    instance_id = _start(client, login, "review_escalation")["instance_id"]
    _complete(client, login, instance_id, "review", {"fee_approved": True, "approved_amount": 300})
    assert _instance(client, login, instance_id)["status"] == "completed"
    assert _ended_at(client, login, instance_id) == "reviewed"
    assert all(status == TimerStatus.CANCELLED for _, status in _waits_for(factory, instance_id)[1])
    _fire(factory, clock, 100)
    assert _instance(client, login, instance_id)["status"] == "completed"
    _invariants_hold(factory)
