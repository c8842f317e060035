"""HTTP: cases through the real server (`tixi serve`, uvicorn) from 1 and 8 concurrent clients.

Named http_api.py, not http.py: the scripts run with bench/ first on sys.path, and a bench/http.py
would shadow the standard library's `http` package that httpx and uvicorn import.

Per database (an SQLite file, a throw-away PostgreSQL database) one server process runs; each
client logs in once per user it acts as, then per instance makes every request a person makes:
start the case, and per task look up the queue, open the task (form and case data), complete it
(claiming it in the same request, `"claim": true`); finally the starter looks at the finished case. Figures:
instances/s, latency per request kind, the server's CPU seconds per instance (utime + stime of
its /proc/<pid>/stat) and its resident memory (VmRSS) as instances accumulate. The ratio is to
the floor-with-serialization measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections import defaultdict
from typing import Any

import httpx
from cases import SHAPES, Shape
from databases import deploy_files_together, form_catalog, scratch_database
from floor import instances_per_second
from report import emit, latency_ms, print_table
from server import Server, live_server

from engine.clock import FrozenClock

WARM_UP = 10
REQUEST_KINDS = ("login", "start", "list", "open", "claim", "complete", "status")


class Client:
    """One person at a browser: their own connection, a token per user they act as."""

    def __init__(self, base_url: str, samples: dict[str, list[float]]) -> None:
        self.http = httpx.AsyncClient(base_url=base_url, timeout=60)
        self.samples, self.tokens = samples, {}

    async def call(self, kind: str, method: str, url: str, user: str | None = None, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[user]}"} if user else {}
        began = time.perf_counter()
        response = await self.http.request(method, url, headers=headers, **kwargs)
        self.samples[kind].append(time.perf_counter() - began)
        if response.status_code >= 300:
            raise RuntimeError(f"{method} {url} as {user}: {response.status_code} {response.text[:300]}")
        return response.json()

    async def log_in(self, users: set[str]) -> None:
        for user in sorted(users):
            # Eight browsers logging in at once fill the server's hashing places (issue 13): a 429
            # says when to come back, as a real client would.
            while (response := await self.http.post("/api/auth/token", data={"username": user, "password": "demo"})
                   ).status_code == 429:
                await asyncio.sleep(float(response.headers.get("retry-after", "1")))
            if response.status_code != 200:
                raise RuntimeError(f"login as {user}: {response.status_code} {response.text[:300]}")
            self.tokens[user] = response.json()["access_token"]

    async def run_case(self, shape: Shape) -> None:
        business_key = f"bench-{uuid.uuid4().hex[:12]}"
        started = await self.call("start", "POST", "/api/instances", shape.starter,
                                  json={"definition_key": shape.key, "business_key": business_key,
                                        "variables": shape.variables})
        for user, element_id, data in shape.steps:
            queue = await self.call("list", "GET", "/api/tasks", user, params={"business_key": business_key})
            task = next(t for t in queue["items"] if t["element_id"] == element_id)
            await self.call("open", "GET", f"/api/tasks/{task['task_id']}", user)
            # An unclaimed task is claimed by the completion itself, in its transaction ("claim": true).
            await self.call("complete", "POST", f"/api/tasks/{task['task_id']}/complete", user,
                            json={"data": data, "claim": True})
        done = await self.call("status", "GET", f"/api/instances/{started['instance_id']}", shape.starter)
        if done["status"] != "completed":
            raise RuntimeError(f"case {business_key} ended {done['status']}")


async def drive(server: Server, shape: Shape, clients: int, count: int) -> dict[str, Any]:
    """`count` instances of `shape`, `clients` of them at a time; the figures of this batch alone."""
    samples: dict[str, list[float]] = defaultdict(list)
    people = [Client(server.base_url, samples) for _ in range(clients)]
    users = {shape.starter, *(user for user, _, _ in shape.steps)}
    remaining, logged_in, go = count, 0, asyncio.Event()
    clock: dict[str, float] = {}

    async def work(person: Client) -> None:
        nonlocal remaining, logged_in
        await person.log_in(users)  # argon2: slow on purpose, and not what is measured
        logged_in += 1
        if logged_in == clients:
            clock["cpu"], clock["began"] = server.cpu_seconds(), time.perf_counter()
            go.set()
        await go.wait()
        # A fresh connection: one left idle past uvicorn's keep-alive (5 s) while others logged in
        # is closed by the server, and a request racing that close fails.
        await person.http.aclose()
        person.http = httpx.AsyncClient(base_url=server.base_url, timeout=60)
        while remaining > 0:
            remaining -= 1
            await person.run_case(shape)

    await asyncio.gather(*(work(person) for person in people))
    elapsed, cpu = time.perf_counter() - clock["began"], server.cpu_seconds() - clock["cpu"]
    for person in people:
        await person.http.aclose()
    requests = sum(len(v) for k, v in samples.items() if k != "login")
    return {"clients": clients, "instances": count, "instances_per_s": round(count / elapsed, 1),
            "requests_per_instance": round(requests / count, 1),
            "server_cpu_s_per_instance": round(cpu / count, 4), "server_cpu_busy": round(cpu / elapsed, 2),
            "latency": {k: latency_ms(samples[k]) for k in REQUEST_KINDS if samples[k]}}


def measure(kind: str, shape_key: str, batches: list[tuple[int, int]], workers: int = 1) -> dict[str, Any]:
    """One server (of `workers` processes) on a new database of `kind`; warm up, then each (clients, count) batch."""
    shape, clock = SHAPES[shape_key], FrozenClock()
    with scratch_database(kind) as engine:
        deploy_files_together(engine, clock, form_catalog(), shape.files)
        with live_server(engine, workers) as server:
            asyncio.run(drive(server, shape, 1, WARM_UP))
            rss = [{"instances": WARM_UP, "rss_kib": server.rss_kib()}]
            results: dict[str, Any] = {}
            for clients, count in batches:
                results[f"clients_{clients}"] = asyncio.run(drive(server, shape, clients, count))
                rss.append({"instances": rss[-1]["instances"] + count, "rss_kib": server.rss_kib()})
    return {"batches": results, "rss": rss}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer instances, the two-task process only")
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()
    batches = [(1, 10), (8, 24)] if args.quick else [(1, 50), (8, 200)]
    floor, _ = instances_per_second(200 if args.quick else 1000, serialize=True)
    runs = {f"{kind}/minimal_two_tasks": measure(kind, "minimal_two_tasks", batches)
            for kind in args.databases.split(",")}
    if "postgresql" in args.databases:
        # Issue 18's scale-out: two server processes on one PostgreSQL against the one above.
        runs["postgresql/minimal_two_tasks/2 processes"] = measure("postgresql", "minimal_two_tasks", batches[1:],
                                                                   workers=2)
    if not args.quick and "postgresql" in args.databases:
        runs["postgresql/complaint_handling"] = measure("postgresql", "complaint_handling", [(8, 50)])
    throughput, latency, memory = [], [], []
    for name, run in runs.items():
        for batch in run["batches"].values():
            batch["ratio_to_floor_serialized"] = round(batch["instances_per_s"] / floor, 4)
            throughput.append([name, batch["clients"], batch["instances"], batch["instances_per_s"],
                               batch["ratio_to_floor_serialized"], batch["requests_per_instance"],
                               batch["server_cpu_s_per_instance"] * 1000, batch["server_cpu_busy"]])
            for kind, figures in batch["latency"].items():
                latency.append([name, batch["clients"], kind, figures["p50_ms"], figures["p95_ms"], figures["p99_ms"]])
        after = [f"{r['rss_kib'] / 1024:.0f} MiB @ {r['instances']}" for r in run["rss"]]
        memory.append([name, *after, *["-"] * (len(batches) + 1 - len(after))])  # the complaint run has one batch
    print_table(f"HTTP through tixi serve (floor with serialization in this run: {floor:,.0f} instances/s)",
                ["database/process", "clients", "instances", "instances/s", "÷ floor", "requests/inst",
                 "server CPU ms/inst", "server CPUs busy"], throughput)
    print_table("HTTP request latency by kind, ms (client side, loopback)",
                ["database/process", "clients", "request", "p50", "p95", "p99"], latency)
    print_table("Server resident memory (VmRSS) after N instances", ["database/process", "after warm-up",
                                                                     *(f"after batch {i + 1}" for i in range(len(batches)))],
                memory)
    scale_out = None
    if "postgresql/minimal_two_tasks/2 processes" in runs:
        one = runs["postgresql/minimal_two_tasks"]["batches"]["clients_8"]["instances_per_s"]
        two = runs["postgresql/minimal_two_tasks/2 processes"]["batches"]["clients_8"]["instances_per_s"]
        scale_out = round(two / one, 2)
        print(f"\nscale-out, PostgreSQL, 8 clients: 2 server processes {two} ÷ 1 process {one} instances/s = "
              f"{scale_out}× (target ≥ 1.6×)")
    emit({"floor_serialized_instances_per_s": round(floor, 1), "http": runs, "scale_out_2_processes": scale_out})


if __name__ == "__main__":
    main()
