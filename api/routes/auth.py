from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm

from api.auth import issue_token
from api.deps import CHECKED_INPUT, ActorDep, ClockDep, SessionDep, SettingsDep
from api.problems import responses
from api.schemas import MeOut, TokenOut
from engine.identity import authenticate

router = APIRouter(prefix="/api/auth", tags=["auth"], responses=responses(400, 401, 422), dependencies=CHECKED_INPUT)


@router.post("/token", summary="Log in (OAuth2 password flow)")
def login(form: Annotated[OAuth2PasswordRequestForm, Depends()], session: SessionDep, clock: ClockDep,
          settings: SettingsDep) -> TokenOut:
    with session.begin():
        actor = authenticate(session, form.username, form.password)
    token = issue_token(actor.username, secret=settings.secret_key, now=clock.now(), minutes=settings.token_minutes)
    return TokenOut(access_token=token, expires_in=settings.token_minutes * 60)


@router.get("/me", summary="Who the token belongs to")
def me(actor: ActorDep) -> MeOut:
    return MeOut(username=actor.username, groups=sorted(actor.groups))
