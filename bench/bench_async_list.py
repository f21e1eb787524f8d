"""Async listing of 10,000 records with 20 ms latency injected per request, vs the sequential
lower bound (pages x latency): what the pager adds to the wait for Sage. The sandbox runs in
its own process, as Sage would: its work does not share this process's GIL."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))


from sage_accounting import AsyncSageAccounting  # noqa: E402

RECORDS = 10_000
LATENCY = 0.020


async def list_all(client: AsyncSageAccounting, concurrency: int) -> int:
    return sum([1 async for _ in client.contacts.list().concurrent(concurrency)])


def main() -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "sage_accounting.testing", "--json", "--empty"]
        + ["--contacts", str(RECORDS), "--latency", str(LATENCY)],
        stdout=subprocess.PIPE,
    )
    try:
        assert server.stdout is not None
        info = json.loads(server.stdout.readline())

        async def run(concurrency: int) -> tuple[int, float, int]:
            requests = 0

            async def count(_request: object) -> None:
                nonlocal requests
                requests += 1

            import httpx

            http = httpx.AsyncClient(event_hooks={"request": [count]})
            async with AsyncSageAccounting(
                access_token=info["access_token"], base_url=info["base_url"], http_client=http
            ) as client:
                started = time.perf_counter()
                items = await list_all(client, concurrency)
                elapsed = time.perf_counter() - started
            await http.aclose()
            return items, elapsed, requests

        for concurrency in (1, 4):
            items, elapsed, pages = asyncio.run(run(concurrency))
            bound = pages * LATENCY
            how = "sequential" if concurrency == 1 else f".concurrent({concurrency})"
            print(
                f"async list of {items} records, {how}: {pages} requests, {elapsed:.3f} s vs "
                f"sequential lower bound {bound:.3f} s ({pages} x {LATENCY * 1000:.0f} ms) "
                f"= {elapsed / bound:.2f}x"
            )
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
