"""Webhooks and the SMS gateway: JSON POSTs with httpx, signed, in the shapes chat robots accept.

- generic: `{"id", "event", "title", "text", "link", "business_key", "step", "due_at"}`, signed with
  HMAC-SHA256 over `<timestamp>.<body>` in `X-Tixi-Timestamp` / `X-Tixi-Signature: sha256=<hex>`.
  Group robots are read by everyone in the chat, so no payload carries the case's variables (the
  customer's phone, say): only what `group_payload_fields` picks and the text the template chose to show.
- WeCom group robot: `{"msgtype": "markdown", "markdown": {"content"}}`; the robot's key is in its URL.
- DingTalk robot: `{"msgtype": "markdown", "markdown": {"title", "text"}}`; with a secret, DingTalk's
  scheme: `timestamp` (ms) and `sign` = base64(HMAC-SHA256(secret, "<timestamp>\\n<secret>")) in the query.
- SMS gateway: `{"id", "phone", "text"}`, signed as generic.
Every request carries `Idempotency-Key: <row id>`; a copy sent after a crash carries the same one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

import httpx

from engine.clock import Clock
from engine.notifications.errors import DeliveryError
from engine.notifications.kinds import WebhookKind

RETRYABLE_STATUS = frozenset({408, 425, 429})


@dataclass(frozen=True)
class Endpoint:
    kind: str
    url: str
    secret: str | None


def tixi_signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def dingtalk_sign(secret: str, timestamp_ms: str) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def post_webhook(http: httpx.Client, clock: Clock, endpoint: Endpoint, *, notification_id: str, event_kind: str,
                 subject: str, body: str, context: dict[str, Any], link: str) -> None:
    """Raises: DeliveryError."""
    url = endpoint.url
    if endpoint.kind == WebhookKind.WECOM:
        payload: dict[str, Any] = {"msgtype": "markdown", "markdown": {"content": f"**{subject}**\n{body}"}}
    elif endpoint.kind == WebhookKind.DINGTALK:
        payload = {"msgtype": "markdown", "markdown": {"title": subject, "text": f"### {subject}\n{body}"}}
        if endpoint.secret:
            stamp = str(int(clock.now().timestamp() * 1000))
            separator = "&" if "?" in url else "?"
            url = f"{url}{separator}timestamp={stamp}&sign={quote_plus(dingtalk_sign(endpoint.secret, stamp))}"
    else:
        payload = {"id": notification_id, "event": event_kind, "title": subject, "text": body, "link": link,
                   **group_payload_fields(context)}
    # DingTalk checks its own signature; the others get Tixi's, which DingTalk would ignore anyway.
    secret = endpoint.secret if endpoint.kind != WebhookKind.DINGTALK else None
    _post(http, clock, url, payload, secret=secret, notification_id=notification_id, chat=endpoint.kind != "generic")


def group_payload_fields(context: dict[str, Any]) -> dict[str, Any]:
    """What a group webhook may carry beyond the rendered text: the case's key, the step and its due time."""
    return {"business_key": context.get("business_key"),
            "step": context.get("task_name") or context.get("step_name") or context.get("deadline_name"),
            "due_at": context.get("due_at")}


def post_sms(http: httpx.Client, clock: Clock, *, gateway_url: str, secret: str | None, notification_id: str,
             phone: str, text: str) -> None:
    """Raises: DeliveryError."""
    if not gateway_url:
        raise DeliveryError("no SMS gateway is configured; set TIXI_SMS_GATEWAY_URL", permanent=True)
    _post(http, clock, gateway_url, {"id": notification_id, "phone": phone, "text": text}, secret=secret,
          notification_id=notification_id, chat=False)


def _post(http: httpx.Client, clock: Clock, url: str, payload: dict[str, Any], *, secret: str | None,
          notification_id: str, chat: bool) -> None:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str).encode()
    headers = {"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": notification_id}
    if secret:
        stamp = str(int(clock.now().timestamp()))
        headers["X-Tixi-Timestamp"] = stamp
        headers["X-Tixi-Signature"] = tixi_signature(secret, stamp, body)
    shown = url.split("?", 1)[0]  # the query may hold a robot's key or signature: keep it out of the reason
    try:
        response = http.post(url, content=body, headers=headers)
    except httpx.TimeoutException:
        raise DeliveryError(f"{shown} did not answer within {http.timeout.read}s (timeout)") from None
    except httpx.HTTPError as error:
        raise DeliveryError(f"{shown} unreachable: {type(error).__name__}: {error}") from None
    if response.status_code >= 300:
        permanent = 400 <= response.status_code < 500 and response.status_code not in RETRYABLE_STATUS
        raise DeliveryError(f"{shown} answered {response.status_code}: {response.text[:200]}", permanent=permanent)
    if chat:
        _check_robot_answer(shown, response)


def _check_robot_answer(shown: str, response: httpx.Response) -> None:
    """WeCom and DingTalk answer 200 with `errcode` != 0 when they refuse a message (bad key, rate limit)."""
    try:
        answer = response.json()
    except ValueError:
        return
    if isinstance(answer, dict) and answer.get("errcode") not in (None, 0):
        raise DeliveryError(f"{shown} refused the message: errcode {answer.get('errcode')}: {answer.get('errmsg')}")
