"""Signed bearer tokens (JWT, HS256) for the OAuth2 password flow."""

from __future__ import annotations

from datetime import datetime, timedelta

import jwt

from engine.errors import AuthenticationError

ALGORITHM = "HS256"
ISSUER = "tixi"


def issue_token(username: str, *, secret: str, now: datetime, minutes: int) -> str:
    claims = {"sub": username, "iss": ISSUER, "iat": now, "exp": now + timedelta(minutes=minutes)}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def username_from_token(token: str, *, secret: str, now: datetime) -> str:
    """Raises: AuthenticationError for a forged, malformed or expired token."""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], issuer=ISSUER,
                            options={"require": ["sub", "exp", "iat"], "verify_exp": False, "verify_iat": False})
    except jwt.InvalidTokenError as error:
        raise AuthenticationError(f"invalid token: {error}") from None
    # Issue and expiry times are checked against Tixi's clock, not the wall clock, so tests can move time.
    if claims["exp"] <= now.timestamp():
        raise AuthenticationError("token expired; log in again")
    if claims["iat"] > now.timestamp() + 60:
        raise AuthenticationError("token issued in the future; check the server clock")
    return str(claims["sub"])
