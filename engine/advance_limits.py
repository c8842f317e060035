"""The server's advance budget, carried by its sessions to the engine code that advances workflows.

Every engine operation already takes a `Session`; the budget rides on the session factory's
`info` rather than on a new parameter of each operation (start, complete, message, timer, retry).
Sessions made without it (tests, scripts) get the defaults.
"""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from engine.bpmn.budget import DEFAULT_LIMITS, AdvanceLimits

__all__ = ["AdvanceLimits", "give_limits", "limits_of"]

_KEY = "tixi_advance_limits"


def give_limits(factory: sessionmaker[Session], limits: AdvanceLimits) -> None:
    """Make every session of `factory` advance workflows under `limits`."""
    info = dict(factory.kw.get("info") or {})
    info[_KEY] = limits
    factory.configure(info=info)


def limits_of(session: Session) -> AdvanceLimits:
    limits = session.info.get(_KEY)
    return limits if isinstance(limits, AdvanceLimits) else DEFAULT_LIMITS
