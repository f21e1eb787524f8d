"""What the agent layer costs: the policy check against the plain SDK call, and building an
agent's tool list from the whole spec.

    .venv/bin/python bench/bench_agents.py [--calls 2000]

A plain client and two agent clients (audit in memory; audit in SQLite, written by its writer
thread) call the same local Sage sandbox (sage_accounting.testing) in one run, taking turns call by call
so drift in the machine's load falls on all; medians per call. The guard alone (no HTTP) is
timed too. Targets: ratio <= 1.05, tool list < 50 ms.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from sage_accounting import SageAccounting
from sage_accounting.agents import MemoryAuditSink, for_agent, parse_policy
from sage_accounting.testing import SageSandbox

POLICY = """
[businesses]
"biz-lead" = "Business One"

[agents.reader]
name = "Reader"
businesses = ["biz-lead"]
areas = { Contacts = "read", Sales = "write", Bank = "read" }
"""


def overhead(calls: int) -> dict[str, float]:
    """Median seconds per call for each client. The clients take turns call by call, so a
    burst of load from elsewhere on the machine falls on all of them alike."""

    with SageSandbox(demo_data=False) as sage:
        (contact_id,) = sage.seed("contacts", 1)
        token = sage.issue_tokens()["access_token"]
        with SageAccounting(
            access_token=token, base_url=sage.base_url, business_id="biz-lead"
        ) as plain:
            policy = parse_policy(POLICY)
            memory = for_agent(plain, policy, "reader", audit=MemoryAuditSink())
            with tempfile.TemporaryDirectory() as tmp:
                sqlite = for_agent(plain, policy, "reader", audit=Path(tmp) / "audit.sqlite")
                clients = {"plain": plain, "memory": memory, "sqlite": sqlite}
                times: dict[str, list[float]] = {name: [] for name in clients}
                names = list(clients)
                for i in range(calls + 50):  # the first 50: warming up (connection, caches)
                    # Each goes first in turn: the audit writer thread's work after a call
                    # lands on whichever call follows, so on all three alike.
                    for name in names[i % 3 :] + names[: i % 3]:
                        client = clients[name]
                        started = time.perf_counter()
                        client.contacts.get(contact_id)
                        if i >= 50:
                            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in times.items()}


def tool_list_ms(repeats: int = 20) -> tuple[float, float, int]:
    """(first build, median of rebuilds) in ms, for an agent permitted every area in full, and
    its tool count. The first build includes reading _tool_schemas.json."""
    from sage_accounting.agents import tools

    text = (
        "[agents.all]\nareas = { "
        + ", ".join(
            f'"{a}" = "full"' for a in ("Sales", "Purchases", "Bank", "Contacts",
                                    "Products & Services", "Settings", "Journals", "Reporting",
                                    "Statutory Reporting")  # fmt: skip
        )
        + ' }\nallow = ["countries", "currencies", "businesses"]\n'
    )
    started = time.perf_counter()
    agent = parse_policy(text).agent("all")
    built = tools.agent_tools(agent)
    first = (time.perf_counter() - started) * 1000
    again = []
    for _ in range(repeats):
        tools.schemas.cache_clear()
        started = time.perf_counter()
        agent = parse_policy(text).agent("all")
        tools.agent_tools(agent)
        again.append((time.perf_counter() - started) * 1000)
    return first, statistics.median(again), len(built)


def guard_us(repeats: int = 20000) -> float:
    """The guard alone (admit and observe, with an in-memory audit record), no HTTP: µs."""
    import httpx

    client = SageAccounting(access_token="x", base_url="http://127.0.0.1:9/v3.1")
    agent = for_agent(client, parse_policy(POLICY), "reader", audit=MemoryAuditSink())
    guard = agent._agent_guard
    from sage_accounting.resources.contacts import GET_CONTACTS_KEY

    request = agent.prepare(GET_CONTACTS_KEY, path={"key": "con00000001"})
    response = httpx.Response(200, content=b'{"id": "con00000001"}',
                              headers={"x-request-id": "r1"})  # fmt: skip
    started = time.perf_counter()
    for _ in range(repeats):
        guard.admit(request)
        guard.observe(request, response)
    return (time.perf_counter() - started) / repeats * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    first, median, count = tool_list_ms()
    print(f"tool list, whole spec ({count} tools): first {first:.1f} ms, "
          f"rebuilt (schemas re-read) median {median:.1f} ms (target < 50 ms)")  # fmt: skip
    print(f"guard alone (admit + observe + audit record in memory): {guard_us():.1f} us a call")
    result = overhead(args.calls)
    plain = result["plain"]
    for name in ("memory", "sqlite"):
        print(f"per call: plain {plain * 1e6:.0f} us, agent ({name} audit) "
              f"{result[name] * 1e6:.0f} us, ratio {result[name] / plain:.3f} (target <= 1.05)")  # fmt: skip


if __name__ == "__main__":
    main()
