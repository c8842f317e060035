from __future__ import annotations

from api.deps import CHECKED_INPUT, ActorDep, ClockDep, SessionDep
from api.problems import API_ERRORS
from api.routing import api_router
from api.schemas import SignalIn, SignalOut
from engine import signals

router = api_router(prefix="/api/signals", tags=["signals"], responses=API_ERRORS, dependencies=CHECKED_INPUT)


@router.post("", summary="Broadcast a signal: every waiting signal event you may reach, every process it starts")
def send_signal(body: SignalIn, session: SessionDep, clock: ClockDep, actor: ActorDep) -> SignalOut:
    with session.begin():
        outcome = signals.broadcast_signal(session, clock, actor=actor, name=body.name, variables=body.variables)
    return SignalOut(resumed=outcome.resumed, started=outcome.started)
