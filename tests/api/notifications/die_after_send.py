"""A dispatcher that sends and then waits to be killed, never marking: the crash between send and mark.

Run as `python -m tests.api.notifications.die_after_send '<json>'` with the database URL, the
configuration and the test clock's time; it prints `sent <n>` once the receivers have the messages.
"""

from __future__ import annotations

import json
import signal
import sys
from datetime import datetime, timedelta

from engine.clock import FrozenClock
from engine.config import EngineConfig
from engine.db import make_engine, make_session_factory
from engine.notifications.dispatcher import Dispatcher, claim_batch, send_batch


def main() -> None:
    args = json.loads(sys.argv[1])
    clock = FrozenClock(datetime.fromisoformat(args["now"]))
    config = EngineConfig(**args["config"])
    factory = make_session_factory(make_engine(args["database_url"]))
    dispatcher = Dispatcher(config, clock)
    claimed = claim_batch(factory, clock, limit=50, lease=timedelta(seconds=config.notify_lease_seconds))
    outcomes = send_batch(dispatcher, claimed)
    print(f"sent {sum(o.error is None for o in outcomes)}", flush=True)
    signal.pause()  # the test kills this process here, before `record_outcomes` would mark the rows sent


if __name__ == "__main__":
    main()
