"""Finding 1 of issue 13: password logins are throttled per address, locked out per account, and an
admin can clear a lock-out. Anonymous guessing must cost the server little and end in a clear 429."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from api.login_guard import HashSlots
from api.problems import BusyError
from api.settings import Settings
from engine.clock import FrozenClock
from engine.tables import AuditEvent

FAILURES = 3


@pytest.fixture
def strict(app_settings: Settings, clock: FrozenClock, factory: sessionmaker[Session]) -> Iterator[TestClient]:
    """An app that locks an account after three failures, an address after six."""
    settings = Settings(**{**app_settings.model_dump(), "login_failures": FAILURES, "login_address_failures": 6,
                           "login_window_minutes": 15, "login_lockout_minutes": 15})
    with TestClient(create_app(settings, clock=clock, session_factory=factory, run_scheduler=False)) as client:
        yield client


def _log_in(client: TestClient, username: str, password: str) -> Any:
    return client.post("/api/auth/token", data={"username": username, "password": password})


def _events(factory: sessionmaker[Session], event_type: str) -> list[AuditEvent]:
    with factory() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.event_type == event_type)
                                    .order_by(AuditEvent.event_id)))


def _assert_locked_out(response: Any, username: str) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == str(15 * 60)
    problem = response.json()
    assert problem["type"] == "urn:tixi:problem:locked-out"
    assert f"POST /api/users/{username}/unlock" in problem["detail"] and "try again in 15 minute" in problem["detail"]


def test_repeated_failures_lock_the_account_until_the_lockout_ends(strict: TestClient, clock: FrozenClock,
                                                                   factory: sessionmaker[Session]) -> None:
    for _ in range(FAILURES):
        assert _log_in(strict, "outlet", "wrong").status_code == 401
    _assert_locked_out(_log_in(strict, "outlet", "demo"), "outlet")  # even the right password, without hashing it
    failed = _events(factory, "login_failed")
    assert [(e.actor, e.data["username"], e.data["address"], e.data["failures"]) for e in failed] == [
        ("anonymous", "outlet", "testclient", n) for n in range(1, FAILURES + 1)]
    assert failed[-1].data["locked_until_at"] == (clock.now() + timedelta(minutes=15)).isoformat()
    clock.advance(timedelta(minutes=14, seconds=59))
    assert _log_in(strict, "outlet", "demo").status_code == 429
    clock.advance(timedelta(seconds=1))
    assert _log_in(strict, "outlet", "demo").status_code == 200


def test_an_admin_clears_a_lockout(strict: TestClient, factory: sessionmaker[Session]) -> None:
    admin = {"Authorization": f"Bearer {_log_in(strict, 'admin', 'demo').json()['access_token']}"}
    for _ in range(FAILURES):
        _log_in(strict, "outlet", "wrong")
    users = {u["username"]: u for u in strict.get("/api/users", headers=admin).json()}
    assert users["outlet"]["locked_until_at"] is not None
    designer = {"Authorization": f"Bearer {_log_in(strict, 'designer', 'demo').json()['access_token']}"}
    refused = strict.post("/api/users/outlet/unlock", headers=designer)
    assert refused.status_code == 403 and _log_in(strict, "outlet", "demo").status_code == 429
    unlocked = strict.post("/api/users/outlet/unlock", headers=admin)
    assert unlocked.status_code == 200, unlocked.text
    assert unlocked.json()["locked_until_at"] is None
    assert [(e.actor, e.data) for e in _events(factory, "user_unlocked")] == [
        ("admin", {"username": "outlet", "was_locked": True})]
    assert _log_in(strict, "outlet", "demo").status_code == 200
    assert strict.post("/api/users/nobody/unlock", headers=admin).status_code == 404


def test_a_success_forgets_earlier_failures(strict: TestClient, factory: sessionmaker[Session]) -> None:
    for _ in range(FAILURES - 1):
        _log_in(strict, "outlet", "wrong")
    assert _log_in(strict, "outlet", "demo").status_code == 200
    assert [e.data for e in _events(factory, "login_failures_cleared")] == [{"username": "outlet"}]
    for _ in range(FAILURES - 1):
        assert _log_in(strict, "outlet", "wrong").status_code == 401
    assert _log_in(strict, "outlet", "demo").status_code == 200  # two failures again, not four


def test_an_unknown_name_locks_out_alike_and_writes_nothing(strict: TestClient,
                                                            factory: sessionmaker[Session]) -> None:
    """Else a lock-out would tell a guesser which names are accounts."""
    for _ in range(FAILURES):
        assert _log_in(strict, "nobody", "demo").status_code == 401
    _assert_locked_out(_log_in(strict, "nobody", "demo"), "nobody")
    assert _events(factory, "login_failed") == []


def test_failures_from_one_address_throttle_it_for_every_account(strict: TestClient, app_settings: Settings,
                                                                 clock: FrozenClock,
                                                                 factory: sessionmaker[Session]) -> None:
    for name in ("outlet", "outlet", "quality", "quality", "nobody1", "nobody2"):  # six, no account locked
        assert _log_in(strict, name, "wrong").status_code == 401
    throttled = _log_in(strict, "designer", "demo")
    assert throttled.status_code == 429, throttled.text
    assert throttled.json()["type"] == "urn:tixi:problem:too-many-requests"
    assert "testclient" in throttled.json()["detail"] and throttled.headers["retry-after"] == str(15 * 60)
    elsewhere = TestClient(strict.app, client=("10.1.2.3", 50000))
    assert _log_in(elsewhere, "designer", "demo").status_code == 200  # another address is not held back
    clock.advance(timedelta(minutes=15))
    assert _log_in(strict, "designer", "demo").status_code == 200


def test_the_login_page_says_how_long_a_lockout_lasts(strict: TestClient) -> None:
    for _ in range(FAILURES):
        strict.post("/login", data={"username": "outlet", "password": "wrong"})
    page = strict.post("/login", data={"username": "outlet", "password": "demo"}, follow_redirects=False)
    assert page.status_code == 429 and page.headers["retry-after"] == str(15 * 60)
    assert "try again in 15 minute" in page.text and "tixi users unlock outlet" in page.text
    assert "tixi_session" not in page.cookies


def test_hash_slots_refuse_at_once_when_every_slot_and_queue_place_is_taken() -> None:
    """A flood waits in no unbounded queue: the attempt past the last place is refused, not held."""
    release = threading.Event()

    async def hash_in_place(slots: HashSlots) -> bool:
        async with slots.place():
            return await slots.run(release.wait)

    async def scenario() -> None:
        slots = HashSlots(slots=1, queue=1)
        running = [asyncio.ensure_future(hash_in_place(slots)) for _ in range(2)]
        await asyncio.sleep(0)  # let both take their places
        with pytest.raises(BusyError) as refused:
            async with slots.place():
                pass  # never reached: the third is refused on the way in
        assert refused.value.extras() == {"retry_after_seconds": 1}
        release.set()
        assert await asyncio.gather(*running) == [True, True]
        async with slots.place():
            assert await slots.run(lambda: "free again") == "free again"
        slots.close()

    asyncio.run(scenario())


def test_an_abandoned_attempt_keeps_its_place_until_its_hash_ends() -> None:
    """A caller who hangs up does not stop the hash; its place must not be handed on before it ends."""
    release = threading.Event()

    async def hash_in_place(slots: HashSlots) -> bool:
        async with slots.place():
            return await slots.run(release.wait)

    async def scenario() -> None:
        slots = HashSlots(slots=1, queue=0)
        abandoned = asyncio.ensure_future(hash_in_place(slots))
        await asyncio.sleep(0)  # let it take its place
        abandoned.cancel()
        with pytest.raises(asyncio.CancelledError):
            await abandoned
        assert slots.busy() is not None  # the hash still runs
        release.set()
        await slots.run(lambda: None)  # one hashing thread: this ends after the abandoned hash
        await asyncio.sleep(0)  # and its done-callback runs
        assert slots.busy() is None
        slots.close()

    asyncio.run(scenario())
