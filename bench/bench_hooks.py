"""What request hooks cost per call: ``client.user.get()`` over an in-process httpx transport
(no network, no server: the SDK's own CPU time) with no hook, vs with ``TracingHook`` recording
into the OpenTelemetry SDK's in-memory exporter, and vs with a hook that does nothing; CPU time
of this process, interleaved runs. Information only (no target): the figures say what a span
costs beside the call it traces."""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import httpx  # noqa: E402
from _timing import interleaved, report  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)

from sage_accounting import RequestHook, SageAccounting  # noqa: E402
from sage_accounting.otel import TracingHook  # noqa: E402

CALLS = 500
REPEAT = 9
USER = b'{"id": "user-1", "first_name": "Ada", "last_name": "Lovelace"}'


def answer(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=USER, headers={"content-type": "application/json"})


def main() -> bool:
    http = httpx.Client(transport=httpx.MockTransport(answer))
    plain = SageAccounting(access_token="t", base_url="https://sage.test/v3.1", http_client=http)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    traced = plain.with_hooks(TracingHook(tracer_provider=provider))
    idle = plain.with_hooks(RequestHook())

    def calls(client: SageAccounting) -> None:
        for _ in range(CALLS):
            client.user.get()
        exporter.clear()

    def run(client: SageAccounting) -> object:
        return lambda: calls(client)

    for client in (plain, traced, idle):
        calls(client)  # warm up validators and the transport
    ok = True
    for name, subject in (("an idle hook", idle), ("TracingHook (SDK, in memory)", traced)):
        hooked, base = interleaved(run(subject), run(plain), REPEAT, clock=time.process_time)
        ok &= report(
            f"per call with {name} vs none", hooked / CALLS * 1e6, base / CALLS * 1e6, None, "us"
        )
    provider.shutdown()
    http.close()
    return ok


if __name__ == "__main__":
    main()
