"""The one error a channel raises: the message did not get through, and whether trying again may help."""

from __future__ import annotations


class DeliveryError(Exception):
    """A message was not delivered. `permanent`: the receiver refused it for good (a dead letter at once)."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.permanent = reason[:2000], permanent
