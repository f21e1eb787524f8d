"""OpenTelemetry tracing of the SDK's requests: ``pip install 'sage-accounting[otel]'``.

    from sage_accounting.otel import TracingHook

    client = SageAccounting(session=session).with_hooks(TracingHook())

A span per attempt of each request (see ``_tracing``). Only ``opentelemetry-api`` is needed; an
application chooses the SDK and exporter (without one, the API's spans are no-ops).
"""

from __future__ import annotations

try:
    import opentelemetry.trace  # noqa: F401
except ModuleNotFoundError as exc:
    if not (exc.name or "").startswith("opentelemetry"):
        raise
    raise ModuleNotFoundError(
        "sage_accounting.otel needs the [otel] extra (opentelemetry-api): "
        "pip install 'sage-accounting[otel]'",
        name=exc.name,
    ) from None

from ._tracing import TracingHook, error_type, redacted_url

__all__ = ["TracingHook", "error_type", "redacted_url"]
