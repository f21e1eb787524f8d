"""The MCP server over HTTP in a process of its own (as on its own host), for the tests that
talk to it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import httpx
import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

TIMEOUT = 60


@contextmanager
def mcp_over_http(policy: Path, env: dict[str, str], *options: str) -> Iterator[str]:
    """``sage-accounting mcp --http --port 0`` on ``policy`` (with ``env`` over this process's
    environment), yielding its URL once it accepts connections; terminated after."""
    process = subprocess.Popen(
        [sys.executable, "-m", "sage_accounting.agents", "mcp", "--policy", str(policy),
         "--http", "--port", "0", *options],
        env={**os.environ, **env}, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("serving MCP on "), line
        url = line.split()[-1]
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:  # until uvicorn accepts connections
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=TIMEOUT)


@asynccontextmanager
async def http_session(url: str, key: str) -> AsyncIterator[ClientSession]:
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx2.AsyncClient(headers=headers, timeout=TIMEOUT) as http:
        async with streamable_http_client(url, http_client=http) as (read, write, *_):
            async with ClientSession(read, write, read_timeout_seconds=TIMEOUT) as session:
                await session.initialize()
                yield session
