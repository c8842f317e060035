"""Real receivers for notification tests: an SMTP server (aiosmtpd) and an HTTP server, on loopback.

Both record what arrived and drop copies by idempotency key (Message-ID, Idempotency-Key), as a
well-behaved receiver does, so a test can count deliveries at the receiver's level.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.conftest import free_port


@dataclass
class Mail:
    message_id: str
    to: list[str]
    subject: str
    body: str


class _SmtpHandler:
    def __init__(self, sink: MailSink) -> None:
        self.sink = sink

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if "refused" in address:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        body = message.get_body(preferencelist=("plain",))
        self.sink.arrive(Mail(str(message["Message-ID"]), list(envelope.rcpt_tos), str(message["Subject"]),
                              body.get_content() if body is not None else ""))
        return "250 Message accepted for delivery"


@dataclass
class MailSink:
    """What the SMTP server received: every copy, and the mails once each (by Message-ID)."""

    host: str = "127.0.0.1"
    port: int = 0
    received: list[Mail] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def arrive(self, mail: Mail) -> None:
        with self._lock:
            self.received.append(mail)

    @property
    def delivered(self) -> dict[str, Mail]:
        with self._lock:
            return {m.message_id: m for m in self.received}


@dataclass
class Arrival:
    key: str
    path: str
    payload: dict[str, Any]
    signature_ok: bool


class WebhookReceiver:
    """An HTTP server that checks a signature and answers as told: 'ok', a status code, or 'hang'.

    `scheme`: "tixi" (X-Tixi-Timestamp/-Signature over timestamp.body), "dingtalk" (timestamp and
    sign in the query, as DingTalk documents it) or "none" (a WeCom robot: its key is its URL).
    """

    def __init__(self, secret: str, scheme: str = "tixi") -> None:
        self.secret, self.scheme = secret, scheme
        self.answers: list[str | int] = []  # consumed one per request; empty: 'ok'
        self.arrivals: list[Arrival] = []
        self.accepted: dict[str, Arrival] = {}  # by idempotency key: a copy is dropped
        self.release = threading.Event()
        self._lock = threading.Lock()
        self.port = free_port()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                arrival = Arrival(self.headers.get("Idempotency-Key", ""), self.path, json.loads(body),
                                  receiver.signed(self.headers, self.path, body))
                with receiver._lock:
                    answer = receiver.answers.pop(0) if receiver.answers else "ok"
                    receiver.arrivals.append(arrival)
                    if answer == "ok" and arrival.signature_ok:
                        receiver.accepted.setdefault(arrival.key, arrival)
                if answer == "hang":
                    receiver.release.wait()
                    return
                status = 200 if answer == "ok" and arrival.signature_ok else 401 if answer == "ok" else int(answer)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def signed(self, headers: Any, path: str, body: bytes) -> bool:
        if self.scheme == "none":
            return True
        if self.scheme == "dingtalk":
            query = parse_qs(urlsplit(path).query)
            stamp, sign = query.get("timestamp", [""])[0], query.get("sign", [""])[0]
            mac = hmac.new(self.secret.encode(), f"{stamp}\n{self.secret}".encode(), hashlib.sha256)
            return bool(stamp) and hmac.compare_digest(base64.b64encode(mac.digest()).decode(), sign)
        stamp = headers.get("X-Tixi-Timestamp", "")
        expected = "sha256=" + hmac.new(self.secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, headers.get("X-Tixi-Signature", ""))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def running_mail_sink(login: tuple[str, str] | None = None) -> Iterator[MailSink]:
    """An SMTP server on a free loopback port; with `login`, it demands AUTH with that name and password."""
    sink = MailSink(port=free_port())
    extra: dict[str, Any] = {}
    if login is not None:
        def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
            ok = isinstance(data, LoginPassword) and (data.login.decode(), data.password.decode()) == login
            return AuthResult(success=ok, handled=False)

        # Loopback only, so plain-text AUTH without TLS is acceptable here (never in production).
        extra = {"authenticator": authenticator, "auth_required": True, "auth_require_tls": False}
    controller = Controller(_SmtpHandler(sink), hostname=sink.host, port=sink.port, **extra)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()
