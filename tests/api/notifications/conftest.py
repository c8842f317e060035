"""Fixtures of the notification tests: real receivers, a dispatcher on the test clock, a repair case's set-up."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.clock import FrozenClock
from engine.config import EngineConfig
from engine.notifications.dispatcher import Dispatcher
from engine.tables import Notification
from tests.api.conftest import Desk
from tests.conftest import TEST_PROCESSES
from tests.notification_receivers import MailSink, WebhookReceiver, running_mail_sink

SECRET = "webhook-secret-for-tests"
Deploy = Callable[[Path], list[dict[str, Any]]]


@pytest.fixture
def mail_sink() -> Iterator[MailSink]:
    yield from running_mail_sink()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(SECRET) as running:
        yield running


@pytest.fixture
def notify_config(mail_sink: MailSink, tmp_path: Path) -> EngineConfig:
    return EngineConfig(smtp_host=mail_sink.host, smtp_port=mail_sink.port, webhook_timeout_seconds=0.5,
                        notify_max_attempts=3, notify_backoff_seconds=10, notify_backoff_max_seconds=60,
                        notify_lease_seconds=120, public_url="https://tixi.example", mail_sink_dir=tmp_path / "mail")


@pytest.fixture
def dispatcher(notify_config: EngineConfig, clock: FrozenClock) -> Iterator[Dispatcher]:
    made = Dispatcher(notify_config, clock)
    yield made
    made.close()


@pytest.fixture
def sms_gateway() -> Iterator[WebhookReceiver]:
    """An SMS gateway (webhook-style, signed) for notices to a customer's phone."""
    with WebhookReceiver("sms-secret") as running:
        yield running


@pytest.fixture
def sending(notify_config: EngineConfig, clock: FrozenClock, sms_gateway: WebhookReceiver) -> Iterator[Dispatcher]:
    """A dispatcher that also texts through `sms_gateway`."""
    made = Dispatcher(notify_config.model_copy(update={"sms_gateway_url": sms_gateway.url,
                                                       "sms_gateway_secret": "sms-secret"}), clock)
    yield made
    made.close()


@pytest.fixture
def outlet_case(desk: Desk, deploy_file: Deploy, client: TestClient, receiver: WebhookReceiver) -> Callable[..., str]:
    """The outlet's engineer has a mail address, the outlet group a webhook; returns a starter of repair cases."""
    deploy_file(TEST_PROCESSES / "outlet_repair.bpmn")
    admin = desk.login("admin")
    response = client.put("/api/users/outlet/notification-settings", headers=admin,
                          json={"email": "engineer@outlet.example", "language": None})
    assert response.status_code == 200, response.text
    response = client.post("/api/webhooks", headers=admin,
                           json={"group_id": "outlet", "kind": "generic", "url": receiver.url, "secret": SECRET})
    assert response.status_code == 201, response.text
    assert response.json()["has_secret"] is True and "secret" not in response.json()

    def start(business_key: str = "BX-2026-0001", **variables: Any) -> str:
        return desk.start("rcc_agent", "outlet_repair", {"customer_name": "王女士", **variables}, business_key)

    return start


def rows_of(factory: sessionmaker[Session], **where: Any) -> list[Notification]:
    with factory() as session:
        query = select(Notification).filter_by(**where).order_by(Notification.channel)
        return list(session.scalars(query))
