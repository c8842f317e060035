"""A flood of anonymous wrong-password logins beside approvers at work (issue 13, finding 1).

Per database (an SQLite file, a throw-away PostgreSQL database) one `tixi serve` runs with its
default login settings. 8 approvers, logged in beforehand, list their queue and open its first
task again and again; a ninth client reads /api/health. Meanwhile 64 flooders each send a
wrong-password login, wait for the answer and send the next, in two rounds:

- one address: all from 127.0.0.1 at one real account (`outlet`): the per-account lock-out and
  the per-address throttle answer them;
- many addresses: each flooder from an address of its own in 127.0.0.0/8, each attempt a name no
  user has: nothing but the bounded hash slots (TIXI_LOGIN_HASH_SLOTS, _QUEUE) stands in the way.

Figures: p50/p95/max of the approvers' requests and of /api/health, how many of those were not
200, and the status counts of the logins. The target is every approver request under 1 s and no
5xx; this script reports, it asserts nothing. A first round without flooders gives the
approvers' figures on this machine as it is (other work on it shows there too).

    python bench/login_flood.py [--quick] [--seconds 20] [--databases sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from collections import Counter
from multiprocessing import Process, Queue
from typing import Any

import httpx
from databases import deploy_files_together, form_catalog, scratch_database
from report import emit, percentile, print_table
from server import Server, live_server
from sqlalchemy import Engine

from engine import instances
from engine.clock import SystemClock
from engine.db import make_session_factory, transaction
from engine.identity import Actor

FLOODERS, APPROVERS, CASES = 64, 8, 40
FLOOD_LEAD_S = 1.0
ROUNDS = ("no flood", "one address", "many addresses")


def _seed(engine: Engine) -> None:
    """Review tasks on the directors' queue, for the approvers to list and open."""
    clock = SystemClock()
    deploy_files_together(engine, clock, form_catalog(), ("minimal_two_tasks.bpmn",))
    with transaction(make_session_factory(engine)) as session:
        for _ in range(CASES):
            instances.start_instance(session, clock, form_catalog(), actor=Actor("outlet", frozenset({"outlet"})),
                                     definition_key="minimal_two_tasks")


async def _flooder(base_url: str, number: int, spread: bool, until: float, statuses: Counter[int]) -> None:
    address = f"127.{1 + number // 250}.0.{2 + number % 250}" if spread else "127.0.0.1"
    transport = httpx.AsyncHTTPTransport(local_address=address)
    async with httpx.AsyncClient(base_url=base_url, timeout=120, transport=transport) as http:
        while time.perf_counter() < until:
            username = f"guess-{uuid.uuid4().hex[:10]}" if spread else "outlet"
            try:
                answer = await http.post("/api/auth/token", data={"username": username, "password": "wrong-guess"})
                statuses[answer.status_code] += 1
            except httpx.TransportError:
                statuses[0] += 1  # no answer at all: counted as a failure of the server


async def _approver(http: httpx.AsyncClient, until: float, samples: list[float], refused: Counter[str]) -> None:
    while time.perf_counter() < until:
        began = time.perf_counter()
        queue = await http.get("/api/tasks", params={"candidate_group": "rcc_director", "limit": 10})
        samples.append(time.perf_counter() - began)
        if queue.status_code != 200:
            refused[f"queue {queue.status_code}"] += 1
            continue
        items = queue.json()["items"]
        if items:
            began = time.perf_counter()
            opened = await http.get(f"/api/tasks/{items[len(samples) % len(items)]['task_id']}")
            samples.append(time.perf_counter() - began)
            if opened.status_code != 200:
                refused[f"open {opened.status_code}"] += 1


async def _health(base_url: str, until: float, samples: list[float], refused: Counter[str]) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=120) as http:
        while time.perf_counter() < until:
            began = time.perf_counter()
            answer = await http.get("/api/health")
            samples.append(time.perf_counter() - began)
            if answer.status_code != 200:
                refused[f"health {answer.status_code}"] += 1
            await asyncio.sleep(0.1)


def _flood(base_url: str, flooders: int, spread: bool, seconds: float, answers: Queue) -> None:  # type: ignore[type-arg]
    """The flooders' process: apart from the approvers', so their requests do not wait behind the flood's."""
    statuses: Counter[int] = Counter()

    async def run() -> None:
        until = time.perf_counter() + seconds
        await asyncio.gather(*(_flooder(base_url, n, spread, until, statuses) for n in range(flooders)))

    asyncio.run(run())
    answers.put(dict(statuses))


async def _approvers(server: Server, tokens: list[str], seconds: float) -> tuple[list[float], list[float], Counter[str]]:
    approvers = []
    for token in tokens:
        http = httpx.AsyncClient(base_url=server.base_url, timeout=120, headers={"Authorization": f"Bearer {token}"})
        await http.get("/api/tasks")  # warm: the first request of a connection is not what is measured
        approvers.append(http)
    work: list[float] = []
    health: list[float] = []
    refused: Counter[str] = Counter()
    until = time.perf_counter() + seconds
    await asyncio.gather(*(_approver(http, until, work, refused) for http in approvers),
                         _health(server.base_url, until, health, refused))
    for http in approvers:
        await http.aclose()
    return work, health, refused


def flood_round(server: Server, flooders: int, spread: bool, seconds: float) -> dict[str, Any]:
    # The approvers logged in before the flood, as people at work are; their logins are not measured.
    tokens = [httpx.post(f"{server.base_url}/api/auth/token", data={"username": "rcc_director", "password": "demo"},
                         timeout=120).json()["access_token"] for _ in range(APPROVERS)]
    answers: Queue = Queue()  # type: ignore[type-arg]
    flood = Process(target=_flood, args=(server.base_url, flooders, spread, seconds + FLOOD_LEAD_S, answers))
    flood.start()
    time.sleep(FLOOD_LEAD_S)  # the flood is under way before the approvers' requests are timed
    cpu_before, began = server.cpu_seconds(), time.perf_counter()
    work, health, refused = asyncio.run(_approvers(server, tokens, seconds))
    cpu = server.cpu_seconds() - cpu_before
    elapsed = time.perf_counter() - began
    statuses = Counter({int(k): v for k, v in answers.get().items()})
    flood.join()
    return {"approver_requests": len(work), "approver_p50_ms": _ms(percentile(work, 50)),
            "approver_p95_ms": _ms(percentile(work, 95)), "approver_max_ms": _ms(max(work)),
            "approver_over_1s": sum(1 for s in work if s >= 1.0),
            "health_max_ms": _ms(max(health)), "not_200": dict(refused),
            "logins": {str(k): v for k, v in sorted(statuses.items())},
            "logins_per_s": round(sum(statuses.values()) / (seconds + FLOOD_LEAD_S), 1),
            "load_average_1min": round(os.getloadavg()[0], 1),
            "login_5xx": sum(v for k, v in statuses.items() if k >= 500 or k == 0),
            "server_cpu_busy": round(cpu / elapsed, 2)}


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def measure(kind: str, seconds: float) -> dict[str, Any]:
    with scratch_database(kind) as engine:
        _seed(engine)
        results = {}
        for name in ROUNDS:  # a server per round: the first round's lock-out and throttle would carry over
            with live_server(engine) as server:
                results[name] = flood_round(server, 0 if name == "no flood" else FLOODERS, name == "many addresses",
                                            seconds)
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="6 s per round instead of 20")
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()
    seconds = args.seconds or (6.0 if args.quick else 20.0)
    figures: dict[str, Any] = {"flooders": FLOODERS, "approvers": APPROVERS, "seconds_per_round": seconds}
    rows = []
    for kind in args.databases.split(","):
        figures[kind] = measure(kind, seconds)
        for name, result in figures[kind].items():
            rows.append((kind, name, result["approver_requests"], result["approver_p50_ms"], result["approver_p95_ms"],
                         result["approver_max_ms"], result["health_max_ms"], result["logins_per_s"],
                         " ".join(f"{k}×{v}" for k, v in result["logins"].items()) or "-", result["login_5xx"],
                         result["load_average_1min"]))
    print_table(f"{FLOODERS} wrong-password login flooders beside {APPROVERS} approvers, {seconds:g} s per round",
                ("database", "flood", "approver reqs", "p50 ms", "p95 ms", "max ms", "health max ms", "logins/s",
                 "login statuses", "login 5xx", "load avg"), rows)
    emit(figures)


if __name__ == "__main__":
    main()
