"""Server CPU per two-task case under the 8-client load, and optionally a py-spy profile of the server.

    python bench/http_profile.py --cases 120 --repeat 2                 # CPU per case, 2 batches
    python bench/http_profile.py --cases 200 --spy /tmp/profile.txt     # and a raw py-spy profile
    python bench/spy_report.py /tmp/profile.txt

The load of bench/http_api.py (start; per task the queue, the task, its completion with "claim":
true; the starter reads the case) against one `tixi serve` process, for longer than its quick run,
so a profile holds enough samples. py-spy (pip install py-spy) records only the measured batches.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
from pathlib import Path

import httpx
from cases import SHAPES
from databases import deploy_files_together, form_catalog, scratch_database
from http_api import WARM_UP, drive
from server import Server, live_server

from engine.clock import FrozenClock


async def _overhead(server: Server, clients: int, requests: int) -> float:
    """Server CPU seconds per authenticated request that reaches no engine step."""
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as http:
        login = await http.post("/api/auth/token", data={"username": "outlet", "password": "demo"})
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        people = [httpx.AsyncClient(base_url=server.base_url, timeout=60, headers=headers) for _ in range(clients)]

        async def work(person: httpx.AsyncClient) -> None:
            for _ in range(requests):
                (await person.get("/api/auth/me")).raise_for_status()

        await asyncio.gather(*(person.get("/api/auth/me") for person in people))  # connections open
        began = server.cpu_seconds()
        await asyncio.gather(*(work(person) for person in people))
        cpu = server.cpu_seconds() - began
        for person in people:
            await person.aclose()
    return cpu / (clients * requests)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="postgresql", choices=("postgresql", "sqlite"))
    parser.add_argument("--cases", type=int, default=120, help="cases per measured batch")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=1, help="measured batches, each reported")
    parser.add_argument("--spy", help="write a raw py-spy profile of the measured batches here")
    parser.add_argument("--overhead", type=int, metavar="N",
                        help="instead of cases: N requests per client of GET /api/auth/me, the request path alone "
                        "(authentication, session, response) with no engine step; CPU per request")
    parser.add_argument("--gil", action="store_true", help="py-spy: only samples holding the GIL (Python CPU)")
    args = parser.parse_args()
    shape, clock = SHAPES["minimal_two_tasks"], FrozenClock()
    with scratch_database(args.database) as engine:
        deploy_files_together(engine, clock, form_catalog(), shape.files)
        with live_server(engine) as server:
            if not args.overhead:
                asyncio.run(drive(server, shape, 1, WARM_UP))
            spy = None
            if args.spy:
                py_spy = Path(sys.executable).parent / "py-spy"
                spy = subprocess.Popen([str(py_spy), "record", "--pid", str(server.pid), "-r", "200", "-f", "raw",
                                        "-o", args.spy, "--nonblocking", *(["--gil"] if args.gil else [])], stdout=subprocess.DEVNULL)
            try:
                for _ in range(args.repeat):
                    if args.overhead:
                        cpu = asyncio.run(_overhead(server, args.clients, args.overhead))
                        print(f"{args.database}: GET /api/auth/me x {args.clients * args.overhead}: "
                              f"{cpu * 1000:.3f} ms server CPU per request", flush=True)
                        continue
                    batch = asyncio.run(drive(server, shape, args.clients, args.cases))
                    print(f"{args.database}: {batch['instances']} cases, {batch['clients']} clients: "
                          f"{batch['server_cpu_s_per_instance'] * 1000:.1f} ms server CPU per case, "
                          f"{batch['instances_per_s']} cases/s, {batch['server_cpu_busy']} CPUs busy", flush=True)
            finally:
                if spy is not None:
                    spy.send_signal(2)  # SIGINT: py-spy writes its profile and exits
                    spy.wait(timeout=60)


if __name__ == "__main__":
    main()
