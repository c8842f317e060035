"""The actors behind recent requests, kept for a few seconds so a request need not look its user up.

Every request names its user by token; reading the user and their groups is a read of its own
before the route's. Kept here, a user's next requests within `seconds` skip it.

What this allows, and what it does not:
- Only found, active users are kept. An unknown or disabled user is looked up on every request,
  so re-enabling someone takes effect at once.
- Changing a user through this server (PATCH /api/users/{username}: disable, groups, outlet,
  password reset; their logout or password change) forgets them here at once, so the change
  applies to their very next request: an ended token is refused at once.
- A change made by another process (`tixi users demo --disable`, a second server) reaches this
  server within `seconds` (TIXI_ACTOR_CACHE_SECONDS, 2 by default; 0 turns keeping off).
- A token's expiry is checked on every request; its signature once per token text (api/auth.py
  CheckedTokens); its generation is compared with the kept user's on every request too.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from cachetools import LRUCache

from engine.identity import TokenHolder

# The users kept at most (the least recently seen fall out): one entry per user who ever logged in
# was a slow leak on a server that runs for months.
MAX_KEPT = 10_000


class ActorCache:
    """Recently read users, each valid for `seconds` by the app's clock (passed to each call as `now`).

    Not a `cachetools.TTLCache`: its timer is a process-wide function, and freshness here is judged
    by the time the request runs at (tests move it), including a clock set back.
    """

    def __init__(self, seconds: float) -> None:
        self._lifetime = timedelta(seconds=seconds)
        self._kept: LRUCache[str, tuple[TokenHolder, datetime]] = LRUCache(maxsize=MAX_KEPT)
        self._lock = threading.Lock()  # sync routes and dependencies run on a thread pool
        self.generation = 0  # moves on each `forget`

    def find(self, username: str, now: datetime) -> TokenHolder | None:
        """The user as read within the lifetime (and not after `now`: a clock set back)."""
        with self._lock:  # a look-up reorders the LRU
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
