"""The bell on every page, the notification centre's page, and the admins' page of dead letters."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from api.auth import issue_token
from api.settings import Settings
from api.web.session import SESSION_COOKIE
from engine.clock import FrozenClock
from engine.notifications.dispatcher import Dispatcher, dispatch_notifications
from tests.api.conftest import Desk
from tests.notification_receivers import WebhookReceiver


def _page(client: TestClient, path: str, username: str, settings: Settings, clock: FrozenClock) -> str:
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, issue_token(username, generation=0, secret=settings.secret_key,
                                                   now=clock.now(), minutes=480))
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 200, response.text
    return response.text


def _bell(html: str) -> str:
    match = re.search(r'data-testid="bell".*?<span class="count"[^>]*>(\d+)</span>', html, re.S)
    assert match, "no bell on the page"
    return match.group(1)


def test_the_bell_counts_unread_notifications_on_every_page_and_the_centre_lists_them(
        outlet_case: Callable[..., str], client: TestClient, factory: sessionmaker[Session], dispatcher: Dispatcher,
        app_settings: Settings, clock: FrozenClock) -> None:
    assert _bell(_page(client, "/tasks", "outlet", app_settings, clock)) == "0"
    outlet_case()
    outlet_case("BX-2026-0002")
    dispatch_notifications(factory, dispatcher)
    for path in ("/tasks", "/instances", "/account", "/notifications"):
        assert _bell(_page(client, path, "outlet", app_settings, clock)) == "2", path
    centre = _page(client, "/notifications", "outlet", app_settings, clock)
    assert centre.count('data-notification="') == 2 and "BX-2026-0002" in centre and 'href="/tasks/' in centre
    assert _bell(_page(client, "/tasks", "rcc_agent", app_settings, clock)) == "0"  # the starter was not told


def test_admins_see_dead_letters_with_their_reason_on_a_page(
        outlet_case: Callable[..., str], client: TestClient, factory: sessionmaker[Session], dispatcher: Dispatcher,
        app_settings: Settings, clock: FrozenClock, receiver: WebhookReceiver) -> None:
    assert "no-dead-letters" in _page(client, "/admin/notifications", "admin", app_settings, clock)
    receiver.answers = [404]  # a webhook that is gone: refused for good, dead at once
    outlet_case()
    dispatch_notifications(factory, dispatcher)
    page = _page(client, "/admin/notifications", "admin", app_settings, clock)
    assert page.count('data-notification="') == 1 and "answered 404" in page
    assert "/resend" in page


def test_the_account_page_shows_the_persons_notification_settings(
        desk: Desk, client: TestClient, app_settings: Settings, clock: FrozenClock) -> None:
    saved = client.put("/api/me/notification-settings", headers=desk.login("outlet"),
                       json={"email": "me@outlet.example", "language": "en", "quiet_hours": True,
                             "channels": {"task_queued": ["in_app"]}})
    assert saved.status_code == 200
    page = _page(client, "/account", "outlet", app_settings, clock)
    assert 'data-api="PUT /api/me/notification-settings"' in page and 'value="me@outlet.example"' in page
    assert '<option value="en" selected>' in page and "task_queued" in page
