"""The scheduler loop around the ticks (timers, deadline alerts, the outbox, http-connector calls, the hourly
purges and the S3 attachment sweep): the only place that sleeps."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import httpx
from sqlalchemy.orm import Session, sessionmaker

from engine.attachment_sweep import sweep_configured_store
from engine.clock import Clock
from engine.config import EngineConfig
from engine.http_connector import run_http_connectors
from engine.notifications.deadline_alerts import sweep_deadlines
from engine.notifications.digest import purge_notifications, send_digests
from engine.notifications.dispatcher import Dispatcher, dispatch_notifications
from engine.timers import fire_due_timers, fire_start_timers

log = logging.getLogger(__name__)


def run_worker(factory: sessionmaker[Session], clock: Clock, stop: threading.Event, *, interval: float = 1.0,
               config: EngineConfig | None = None) -> None:
    """Fire due timers (and, given a configuration, tell deadlines and send the outbox) until `stop` is set.

    Timers that fell due while nobody ran fire on the first tick.
    """
    log.info("scheduler started (every %.1fs)", interval)
    dispatcher = Dispatcher(config, clock) if config is not None else None
    purge_due = clock.now()  # retention scans the told rows: once an hour is enough
    sweep_due = clock.now()  # so does the S3 attachment store's sweep, which lists the whole bucket
    # Redirects are not followed: they could lead past the allowed hosts.
    http = httpx.Client(follow_redirects=False) if config is not None else None
    try:
        while not stop.is_set():
            try:
                fired = fire_due_timers(factory, clock) + fire_start_timers(factory, clock)
                done = fired
                if dispatcher is not None:
                    done += sweep_deadlines(factory, clock, reminder_hours=dispatcher.config.deadline_reminder_hours)
                    done += send_digests(factory, clock, hour=dispatcher.config.notification_digest_hour)
                    if clock.now() >= purge_due:
                        purge_notifications(factory, clock, retention_days=dispatcher.config.notification_retention_days)
                        purge_due = clock.now() + timedelta(hours=1)
                    if clock.now() >= sweep_due:
                        sweep_due = clock.now() + timedelta(hours=1)  # a store that is down is tried next hour
                        sweep_configured_store(factory, clock, dispatcher.config)
                    done += dispatch_notifications(factory, dispatcher)
                if http is not None and config is not None:
                    done += run_http_connectors(factory, clock, config=config, http=http)
            except Exception:  # a database blip must not kill the scheduler; try again next tick
                log.exception("scheduler tick failed")
                fired = done = 0
            if fired:
                log.info("fired %d timer(s)", fired)
            if done:
                continue  # more may be due: do not wait
            stop.wait(interval)
    finally:
        if dispatcher is not None:
            dispatcher.close()
        if http is not None:
            http.close()
    log.info("scheduler stopped")


def start_background_worker(
    factory: sessionmaker[Session], clock: Clock, *, interval: float = 1.0, config: EngineConfig | None = None
) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(target=run_worker, args=(factory, clock, stop),
                              kwargs={"interval": interval, "config": config}, name="tixi-scheduler", daemon=True)
    thread.start()
    return thread, stop
