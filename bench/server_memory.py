"""Server memory: the resident size of `tixi serve` as 100 k instances pass through it.

Eight clients start `minimal_two_tasks` cases through the live server on a throw-away PostgreSQL
database, one `POST /api/instances` each, and leave them waiting at their first task: every case
is one the server has built, run and saved, and may keep in its workflow cache, and none of them
ends, so nothing the server holds for a running case is let go early. VmRSS of the server process
is read after a warm-up and at each checkpoint. The quick run stops at 5 k instances.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

import httpx
from databases import deploy_bench_process, form_catalog, scratch_database
from report import emit, print_table
from server import live_server

from engine.clock import FrozenClock

CLIENTS = 8
WARM_UP = 200


async def start_cases(base_url: str, token: str, count: int) -> None:
    """`count` cases started by CLIENTS concurrent clients, each on its own connection."""
    headers = {"Authorization": f"Bearer {token}"}
    remaining = [count]

    async def client() -> None:
        async with httpx.AsyncClient(base_url=base_url, timeout=60, headers=headers) as http:
            while remaining[0] > 0:
                remaining[0] -= 1
                response = await http.post("/api/instances", json={
                    "definition_key": "minimal_two_tasks", "business_key": f"rss-{uuid.uuid4().hex[:12]}"})
                if response.status_code != 201:
                    raise RuntimeError(f"start: {response.status_code} {response.text[:300]}")

    await asyncio.gather(*(client() for _ in range(CLIENTS)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="stop at 5 k instances")
    checkpoints = [1_000, 5_000] if parser.parse_args().quick else [10_000, 25_000, 50_000, 100_000]
    rows: list[list[object]] = []
    figures: dict[str, dict[str, float]] = {}
    with scratch_database("postgresql") as engine:
        deploy_bench_process(engine, FrozenClock(), form_catalog(), "minimal_two_tasks.bpmn")
        with live_server(engine) as server:
            token = httpx.post(f"{server.base_url}/api/auth/token",
                               data={"username": "outlet", "password": "demo"}).json()["access_token"]
            asyncio.run(start_cases(server.base_url, token, WARM_UP))
            warm_mib, began, done = round(server.rss_kib() / 1024, 1), time.perf_counter(), WARM_UP
            rows.append([f"{done:,} (warm-up)", warm_mib, "-"])
            for checkpoint in checkpoints:
                asyncio.run(start_cases(server.base_url, token, checkpoint - done))
                done = checkpoint
                rss_mib = round(server.rss_kib() / 1024, 1)
                rate = round((done - WARM_UP) / (time.perf_counter() - began), 1)
                rows.append([f"{done:,}", rss_mib, rate])
                figures[str(done)] = {"rss_mib": rss_mib, "starts_per_s": rate}
    last = figures[str(checkpoints[-1])]["rss_mib"]
    print_table(f"Server memory: VmRSS of tixi serve as instances pass through it (PostgreSQL, {CLIENTS} clients "
                "start minimal_two_tasks cases, each left waiting at its first task)",
                ["instances", "RSS MiB", "starts/s so far"], rows)
    print(f"RSS after {checkpoints[-1]:,} instances: {last} MiB (after the warm-up: {warm_mib} MiB)")
    emit({"server_memory": figures, "server_memory_warm_mib": warm_mib,
          "server_memory_instances": checkpoints[-1], "server_memory_rss_mib": last})


if __name__ == "__main__":
    main()
