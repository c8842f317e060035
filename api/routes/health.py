from __future__ import annotations

from sqlalchemy import text

from api.deps import SessionDep
from api.routing import api_router

router = api_router(tags=["health"])


@router.get("/api/health", summary="Liveness and database reachability (no login)")
def health(session: SessionDep) -> dict[str, str]:
    session.execute(text("SELECT 1"))
    return {"status": "ok"}
