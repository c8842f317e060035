from __future__ import annotations

from api.deps import CHECKED_INPUT, ActorDep, ClockDep, SessionDep
from api.problems import API_ERRORS
from api.routing import api_router
from api.schemas import MessageIn, MessageOut
from engine import messages

router = api_router(prefix="/api/messages", tags=["messages"], responses=API_ERRORS, dependencies=CHECKED_INPUT)


@router.post("", summary="Deliver a message: resume the one instance waiting for it, or start a process")
def send_message(body: MessageIn, session: SessionDep, clock: ClockDep, actor: ActorDep) -> MessageOut:
    with session.begin():
        outcome = messages.correlate_message(session, clock, actor=actor, name=body.name,
                                             business_key=body.business_key,
                                             correlation_keys=body.correlation_keys, variables=body.variables)
    return MessageOut(**outcome.__dict__)
