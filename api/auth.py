"""Signed bearer tokens (JWT, HS256) for the OAuth2 password flow.

A token names its user and the user's token generation at issue (`gen`); api/deps.py honours it
only while the user's row still holds that generation, which is how tokens are ended.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

from engine.errors import AuthenticationError

ALGORITHM = "HS256"
ISSUER = "tixi"


@dataclass(frozen=True)
class TokenClaims:
    username: str
    generation: int


def issue_token(username: str, *, generation: int, secret: str, now: datetime, minutes: int) -> str:
    claims = {"sub": username, "gen": generation, "iss": ISSUER, "iat": now, "exp": now + timedelta(minutes=minutes)}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def read_token(token: str, *, secret: str, now: datetime) -> TokenClaims:
    """Raises: AuthenticationError for a forged, malformed or expired token, or one from before generations."""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], issuer=ISSUER,
                            options={"require": ["sub", "exp", "iat", "gen"], "verify_exp": False,
                                     "verify_iat": False})
    except jwt.InvalidTokenError as error:
        raise AuthenticationError(f"invalid token: {error}; log in again") from None
    # Issue and expiry times are checked against Tixi's clock, not the wall clock, so tests can move time.
    if claims["exp"] <= now.timestamp():
        raise AuthenticationError("token expired; log in again")
    if claims["iat"] > now.timestamp() + 60:
        raise AuthenticationError("token issued in the future; check the server clock")
    if not isinstance(claims["gen"], int):
        raise AuthenticationError("invalid token: malformed 'gen' claim; log in again")
    return TokenClaims(str(claims["sub"]), claims["gen"])
