"""The actors behind recent requests, kept for a few seconds so a request need not look its user up.

Every request names its user by token; reading the user and their groups is a transaction of its
own (BEGIN, SELECT, COMMIT) before the route's. Kept here, a user's next requests within
`seconds` skip it.

What this allows, and what it does not:
- Only found, active users are kept. An unknown or disabled user is looked up on every request,
  so re-enabling someone takes effect at once.
- Changing a user through this server (PATCH /api/users/{username}: disable, groups, outlet,
  password reset; their logout or password change) forgets them here at once, so the change
  applies to their very next request: an ended token is refused at once.
- A change made by another process (`tixi users demo --disable`, a second server) reaches this
  server within `seconds` (TIXI_ACTOR_CACHE_SECONDS, 2 by default; 0 turns keeping off).
- The token itself (signature, expiry) is checked on every request, never kept; its generation is
  compared with the kept user's on every request too.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from engine.identity import TokenHolder


class ActorCache:
    def __init__(self, seconds: float) -> None:
        self._lifetime = timedelta(seconds=seconds)
        self._kept: dict[str, tuple[TokenHolder, datetime]] = {}
        self._lock = threading.Lock()  # sync routes and dependencies run on a thread pool
        self.generation = 0  # moves on each `forget`

    def find(self, username: str, now: datetime) -> TokenHolder | None:
        """The user as read within the lifetime (and not after `now`: a clock set back)."""
        found = self._kept.get(username)
        if found is None:
            return None
        holder, read_at = found
        return holder if read_at <= now < read_at + self._lifetime else None

    def keep(self, holder: TokenHolder, now: datetime, *, generation: int) -> None:
        """Keep a user read from the database; `generation` is the cache's as it was before the read.

        A user changed while the read was on its way could otherwise be kept as they were before.
        """
        with self._lock:
            if self._lifetime > timedelta(0) and generation == self.generation:
                self._kept[holder.actor.username] = (holder, now)

    def forget(self, username: str) -> None:
        with self._lock:
            self.generation += 1
            self._kept.pop(username, None)
