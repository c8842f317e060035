"""Signed bearer tokens (JWT, HS256) for the OAuth2 password flow.

A token names its user and the user's token generation at issue (`gen`); api/deps.py honours it
only while the user's row still holds that generation, which is how tokens are ended.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from cachetools import LRUCache

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
    return _check_times(_verify(token, secret), now)


class CheckedTokens:
    """Tokens whose signature and claims were checked, by their exact text, so a token's next requests skip it.

    A client sends the same token with every request, and its check (base64, JSON, HMAC, the claims)
    was a tenth of an authenticated request's CPU. Kept by the whole token's text, a token maps to
    the claims its signature covers, and the secret does not change while the app runs; a token
    that fails is never kept. Expiry and issue time are still checked against the clock on every
    request, and the generation against the user's (api/deps.py).
    """

    def __init__(self, secret: str, max_kept: int = 10_000) -> None:
        self._secret = secret
        self._kept: LRUCache[str, _Checked] = LRUCache(maxsize=max_kept)
        self._lock = threading.Lock()  # sync routes read tokens on the thread pool too

    def read(self, token: str, now: datetime) -> TokenClaims:
        """`read_token` with this app's secret. Raises: AuthenticationError."""
        with self._lock:
            checked = self._kept.get(token)
        if checked is None:
            checked = _verify(token, self._secret)
            with self._lock:
                self._kept[token] = checked
        return _check_times(checked, now)


@dataclass(frozen=True)
class _Checked:
    claims: TokenClaims
    issued_at: float
    expires_at: float


def _verify(token: str, secret: str) -> _Checked:
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], issuer=ISSUER,
                            options={"require": ["sub", "exp", "iat", "gen"], "verify_exp": False,
                                     "verify_iat": False})
    except jwt.InvalidTokenError as error:
        raise AuthenticationError(f"invalid token: {error}; log in again") from None
    if not isinstance(claims["gen"], int):
        raise AuthenticationError("invalid token: malformed 'gen' claim; log in again")
    return _Checked(TokenClaims(str(claims["sub"]), claims["gen"]), claims["iat"], claims["exp"])


def _check_times(checked: _Checked, now: datetime) -> TokenClaims:
    # Issue and expiry times are checked against Tixi's clock, not the wall clock, so tests can move time.
    if checked.expires_at <= now.timestamp():
        raise AuthenticationError("token expired; log in again")
    if checked.issued_at > now.timestamp() + 60:
        raise AuthenticationError("token issued in the future; check the server clock")
    return checked.claims
