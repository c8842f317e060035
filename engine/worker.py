"""The scheduler loop around `fire_due_timers`: the only place that sleeps."""

from __future__ import annotations

import logging
import threading

from sqlalchemy.orm import Session, sessionmaker

from engine.clock import Clock
from engine.timers import fire_due_timers, fire_start_timers

log = logging.getLogger(__name__)


def run_worker(factory: sessionmaker[Session], clock: Clock, stop: threading.Event, *, interval: float = 1.0) -> None:
    """Fire due timers until `stop` is set; timers that fell due while nobody ran fire on the first tick."""
    log.info("scheduler started (every %.1fs)", interval)
    while not stop.is_set():
        try:
            fired = fire_due_timers(factory, clock) + fire_start_timers(factory, clock)
        except Exception:  # a database blip must not kill the scheduler; try again next tick
            log.exception("scheduler tick failed")
            fired = 0
        if fired:
            log.info("fired %d timer(s)", fired)
            continue  # more may be due: do not wait
        stop.wait(interval)
    log.info("scheduler stopped")


def start_background_worker(
    factory: sessionmaker[Session], clock: Clock, *, interval: float = 1.0
) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(target=run_worker, args=(factory, clock, stop), kwargs={"interval": interval},
                              name="tixi-scheduler", daemon=True)
    thread.start()
    return thread, stop
