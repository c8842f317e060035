"""Designers' notifications: a send task or a message throw/end event that tells people.

The element carries `camunda:property name="notify"` (a template in the notification templates
folder) and `notify_to`, a comma-separated list of `user:NAME`, `group:NAME` (its members as
their settings say, and its webhooks) or `var:NAME` (a case variable holding a mail address or a
phone number, e.g. the customer's). The rows are written in the step's transaction, so a step
that rolls back tells no one, and the element passes through (engine/bpmn/parsing.py). A variable
that is missing or holds neither an address nor a phone cannot stop the step: the row is written
as a dead letter that names the reason, for an admin to see.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from engine.notifications.kinds import Channel, EventKind
from engine.notifications.outbox import outbox_row, tell
from engine.states import NotificationStatus
from engine.tables import Instance

RECIPIENT = re.compile(r"^(user|group|var):([A-Za-z_][\w.-]{0,63})$")
MAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^\+?[0-9(][0-9() -]{4,29}$")
_SHOWN_TYPES = (str, int, float, bool)


def recipient_problem(recipient: str) -> str | None:
    """Why a `notify_to` entry is not one Tixi can read, or None (checked at deploy)."""
    if RECIPIENT.match(recipient):
        return None
    return f"notify_to entry '{recipient}' is not user:NAME, group:NAME or var:NAME"


def notify_designed(session: Session, *, record: Instance, element_id: str, meta: dict[str, Any],
                    variables: dict[str, Any], actor: str, now: datetime) -> None:
    """Write the outbox rows of one designer's notification that a step reached."""
    context = {
        "business_key": record.business_key, "process_key": record.definition_key,
        "instance_id": str(record.instance_id), "step_name": meta.get("name") or element_id,
        "customer_name": record.customer_name, "outlet_code": record.outlet_code, "actor": actor,
        "link": f"/instances/{record.instance_id}", "template": meta["template"],
        # The text of a template deployed with the process (engine/notifications/deployed_templates.py).
        **({"template_source": meta["source"]} if "source" in meta else {}),
        # What a template may show of the case: its plain values (no nested data, long text cut).
        "case": {k: v[:500] if isinstance(v, str) else v for k, v in variables.items()
                 if isinstance(v, _SHOWN_TYPES) or v is None},
    }
    kind = EventKind.PROCESS_NOTICE
    for recipient in meta.get("to", []):
        match = RECIPIENT.match(recipient)
        if match is None:
            continue  # refused at deploy; a definition stored before the check cannot fail the step
        source, name = match.groups()
        if source == "user":
            tell(session, kind, record=record, task_id=None, context=context, now=now, usernames=[name])
        elif source == "group":
            tell(session, kind, record=record, task_id=None, context=context, now=now, members_of=[name],
                 webhooks_of=[name])
        else:
            _to_address(session, record=record, variable=name, value=variables.get(name), context=context, now=now)


def _to_address(session: Session, *, record: Instance, variable: str, value: Any, context: dict[str, Any],
                now: datetime) -> None:
    text = value.strip() if isinstance(value, str) else ""
    channel = Channel.EMAIL if MAIL.match(text) else Channel.SMS if PHONE.match(text) else None
    row = outbox_row(EventKind.PROCESS_NOTICE, channel or Channel.SMS, recipient=None, group_id=None,
                     target=text[:500], language=None, record=record, task_id=None, context=context, due=now, now=now)
    if channel is None:
        row.status = NotificationStatus.DEAD
        row.last_error = (f"case variable '{variable}' is missing" if value is None else
                          f"case variable '{variable}' holds neither a mail address nor a phone number")
    session.add(row)
