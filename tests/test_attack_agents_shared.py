"""MCP servers sharing Redis, attacked: Redis gone in the middle of a call and back, servers on
stdio and over HTTP counting one budget, a refresh when Redis is away. Each server is its own
process, against the sandbox, on a Redis of the test's own (stopped and started here)."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp_http import http_session, mcp_over_http
from test_agents_shared import READER_KEY, error_of, policy_on

from sage_accounting import TokenSet
from sage_accounting.scale import RedisTokenStore

PASSWORD = "hunter2-redis"


@pytest.fixture
def own_redis() -> Iterator[Any]:
    from servers import RedisServer

    server = RedisServer()
    yield server
    server.close()


def stale_grant(fake_sage: Any, url: str) -> None:
    """The grant in the store, its access token stale: the first call refreshes it."""
    RedisTokenStore(url, "books").save(
        TokenSet.from_response(fake_sage.issue_tokens(expires_in=1), time.time() - 60)
    )


def ready(fake_sage: Any, url: str, contacts: int = 1) -> dict[str, str]:
    """The sandbox with ``contacts``, the grant in the store at ``url`` (stale), and the
    servers' environment."""
    fake_sage.seed("contacts", contacts)
    stale_grant(fake_sage, url)
    return {"SAGE_CLIENT_SECRET": fake_sage.state.client_secret}


def shared(url: str) -> list[str]:
    return ["--tokens", url, "--grant", "books", "--quota", url, "--budgets", url]


async def test_redis_gone_mid_session_is_a_tool_error_and_its_return_is_served(
    fake_sage: Any, own_redis: Any, tmp_path: Path
) -> None:
    env = ready(fake_sage, own_redis.url, 2)
    policy = policy_on(fake_sage, tmp_path / "a")
    with mcp_over_http(policy, env, *shared(own_redis.url)) as url:
        async with http_session(url, READER_KEY) as session:
            assert not (await session.call_tool("contacts_list", {})).is_error
            own_redis.stop()
            gone = await session.call_tool("contacts_list", {})
            assert gone.is_error
            said = error_of(gone)
            assert "127.0.0.1" in said and "Traceback" not in said, said
            own_redis.start()  # back, its keys from its append-only file
            back = await session.call_tool("contacts_list", {})
            assert not back.is_error, error_of(back)
    assert fake_sage.count("GET /contacts") == 2  # the call while Redis was away never went out
    counts = fake_sage.state.counts
    assert counts["rotation"] == 1 and counts["grant killed"] == 0


async def test_a_refresh_while_redis_is_away_leaves_the_grant_alive(
    fake_sage: Any, own_redis: Any, tmp_path: Path
) -> None:
    """The refresh needs the grant's lock: with Redis away none is made (the refresh token is
    not spent where the new pair could not be saved), and once Redis is back one is."""
    env = ready(fake_sage, own_redis.url)
    with mcp_over_http(policy_on(fake_sage, tmp_path / "a"), env, "--tokens", own_redis.url,
                       "--grant", "books") as url:  # fmt: skip
        async with http_session(url, READER_KEY) as session:
            own_redis.stop()
            assert (await session.call_tool("contacts_list", {})).is_error
            assert fake_sage.state.counts["rotation"] == 0
            own_redis.start()
            assert not (await session.call_tool("contacts_list", {})).is_error
    assert fake_sage.state.counts["rotation"] == 1 and fake_sage.state.counts["grant killed"] == 0


async def test_a_budget_is_one_count_for_a_stdio_server_and_an_http_server(
    fake_sage: Any, redis_url: str, tmp_path: Path
) -> None:
    env = ready(fake_sage, redis_url)
    stdio = StdioServerParameters(
        command=sys.executable,
        args=["-m", "sage_accounting.agents", "mcp", "--policy",
              str(policy_on(fake_sage, tmp_path / "stdio")), *shared(redis_url)],
        env={**os.environ, **env, "SAGE_AGENT_KEY": READER_KEY},
    )  # fmt: skip
    with mcp_over_http(policy_on(fake_sage, tmp_path / "http"), env, *shared(redis_url)) as url:
        async with http_session(url, READER_KEY) as on_http:
            async with stdio_client(stdio) as (read, write):
                async with ClientSession(read, write) as on_stdio:
                    await on_stdio.initialize()
                    answers = [
                        await on_stdio.call_tool("contacts_list", {}),
                        await on_http.call_tool("contacts_list", {}),
                        await on_stdio.call_tool("contacts_list", {}),
                    ]
                    assert [a.is_error for a in answers] == [False] * 3
                    tripped = await on_http.call_tool("contacts_list", {})
                    assert tripped.is_error and "budget of 3 calls a minute" in error_of(tripped)
    assert fake_sage.count("GET /contacts") == 3
    assert fake_sage.state.counts["rotation"] == 1 and fake_sage.state.counts["grant killed"] == 0


async def test_nothing_the_agent_or_the_audit_log_sees_holds_the_redis_password(
    fake_sage: Any, tmp_path: Path
) -> None:
    """A Redis behind a password, gone mid-session: the tool's error and the audit records name
    the store by host, never with its password."""
    import sqlite3

    from servers import RedisServer

    server = RedisServer(password=PASSWORD)
    try:
        env = ready(fake_sage, server.url)
        with mcp_over_http(policy_on(fake_sage, tmp_path / "a"), env, *shared(server.url)) as url:
            async with http_session(url, READER_KEY) as session:
                assert not (await session.call_tool("contacts_list", {})).is_error
                server.stop()
                gone = await session.call_tool("contacts_list", {})
                assert gone.is_error and PASSWORD not in json.dumps(gone.model_dump())
    finally:
        server.close()
    audit = sqlite3.connect(tmp_path / "a" / "audit.sqlite")
    rows = [json.dumps(row, default=str) for row in audit.execute("SELECT * FROM audit")]
    assert rows and not any(PASSWORD in row for row in rows)


async def test_redis_gone_during_a_refresh_and_back_keeps_the_new_pair(
    fake_sage: Any, own_redis: Any, tmp_path: Path
) -> None:
    """Sage has rotated the pair and is slow to answer; Redis goes away meanwhile and comes back:
    the save is tried again until it lands, so the next server uses the new pair."""
    import asyncio

    from sage_accounting.testing import Fault

    env = ready(fake_sage, own_redis.url)
    fake_sage.inject(Fault.latency(1.5, path="/token", after=True))
    with mcp_over_http(policy_on(fake_sage, tmp_path / "a"), env, *shared(own_redis.url)) as url:
        async with http_session(url, READER_KEY) as session:
            call = asyncio.create_task(session.call_tool("contacts_list", {}))
            await asyncio.sleep(0.7)
            await asyncio.to_thread(own_redis.stop)
            await asyncio.sleep(1.5)
            await asyncio.to_thread(own_redis.start)
            answer = await call
    assert fake_sage.state.counts["rotation"] == 1
    with mcp_over_http(policy_on(fake_sage, tmp_path / "b"), env, *shared(own_redis.url)) as url:
        async with http_session(url, READER_KEY) as session:
            again = await session.call_tool("contacts_list", {})
    assert fake_sage.state.counts["grant killed"] == 0, (error_of(answer), error_of(again))
    assert not again.is_error, error_of(again)


async def test_ctrl_c_during_a_refresh_leaves_the_grant_alive_for_the_next_server(
    fake_sage: Any, redis_url: str, tmp_path: Path
) -> None:
    """SIGINT while Sage is answering the refresh (it has rotated the pair already)."""
    import asyncio
    import signal
    import subprocess

    from sage_accounting.testing import Fault

    env = ready(fake_sage, redis_url)
    fake_sage.inject(Fault.latency(1.5, path="/token", after=True))
    process = subprocess.Popen(
        [sys.executable, "-m", "sage_accounting.agents", "mcp", "--policy",
         str(policy_on(fake_sage, tmp_path / "a")), "--http", "--port", "0", *shared(redis_url)],
        env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split()[-1]
        await asyncio.sleep(0.5)
        async with http_session(url, READER_KEY) as session:
            call = asyncio.create_task(session.call_tool("contacts_list", {}))
            await asyncio.sleep(0.7)  # in the refresh: Sage has rotated, not yet answered
            process.send_signal(signal.SIGINT)
            with pytest.raises(BaseException):  # noqa: B017  # the connection ends, somehow
                await asyncio.wait_for(call, 20)
    finally:
        process.wait(30)
    assert fake_sage.state.counts["rotation"] == 1
    with mcp_over_http(policy_on(fake_sage, tmp_path / "b"), env, *shared(redis_url)) as url:
        async with http_session(url, READER_KEY) as session:
            again = await session.call_tool("contacts_list", {})
    counts = fake_sage.state.counts
    assert counts["grant killed"] == 0, (error_of(again), counts)
    assert not again.is_error
