"""`make run` without a mail server: `tixi serve`'s own scheduler writes each mail into a folder a newcomer reads."""

from __future__ import annotations

import os
from email import message_from_bytes, policy
from pathlib import Path

import httpx
import pytest

from api.auth import issue_token
from engine.clock import SystemClock
from tests.conftest import DATABASES, TEST_PROCESSES, free_port, migrated_database
from tests.robustness.test_crash import SECRET, Process


def _bearer(user: str) -> dict[str, str]:
    token = issue_token(user, generation=0, secret=SECRET, now=SystemClock().now(), minutes=60)
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("kind", DATABASES)
def test_serve_without_smtp_writes_the_outlet_engineers_mail_to_the_local_folder(kind: str, tmp_path: Path) -> None:
    sink = tmp_path / "outbox-mail"
    os.environ["TIXI_MAIL_SINK_DIR"] = str(sink)
    os.environ["TIXI_SCHEDULER_INTERVAL"] = "0.2"
    # No "due soon" reminder: at night or at a weekend the task's 24 hours end within the reminder's
    # lead, counted in working hours, and the sweep would send a second mail and bell at once.
    os.environ["TIXI_DEADLINE_REMINDER_HOURS"] = "0"
    port = free_port()
    try:
        with migrated_database(kind, tmp_path, "tixi_sink") as engine:
            server = Process(["serve", "--host", "127.0.0.1", "--port", str(port)],
                             engine.url.render_as_string(hide_password=False))
            try:
                server.wait_for("Application startup complete")
                assert any("written to" in line and str(sink) in line for line in server.lines)
                with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                    bpmn = (TEST_PROCESSES / "outlet_repair.bpmn").read_bytes()
                    deployed = client.post("/api/definitions", headers=_bearer("designer"),
                                           files={"file": ("outlet_repair.bpmn", bpmn, "text/xml")})
                    assert deployed.status_code == 201, deployed.text
                    started = client.post("/api/instances", headers=_bearer("rcc_agent"),
                                          json={"definition_key": "outlet_repair", "business_key": "BX-LOCAL-1"})
                    assert started.status_code == 201, started.text
                server.wait_for("notifications: 2 sent")  # the outlet engineer's mail and bell
            finally:
                server.kill()
    finally:
        os.environ.pop("TIXI_MAIL_SINK_DIR")
        os.environ.pop("TIXI_SCHEDULER_INTERVAL")
        os.environ.pop("TIXI_DEADLINE_REMINDER_HOURS")
    [mail_file] = sink.glob("*.eml")
    mail = message_from_bytes(mail_file.read_bytes(), policy=policy.default)
    assert mail["To"] == "outlet@demo.tixi.invalid" and "BX-LOCAL-1" in str(mail["Subject"])
    assert mail["Message-ID"] == f"<{mail_file.stem}@tixi>"
