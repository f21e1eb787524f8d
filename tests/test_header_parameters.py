"""Header parameters at run time: the idempotency header is filled once per call, reused on
retries; other declared headers are keyword arguments that reach the request."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from sage_accounting._runtime import with_headers
from sage_accounting.resources import migration_tax_returns

OPERATION = "postMigrationTaxReturns"
BODY = {
    "migration_tax_return": {
        "from_date": "2024-01-01",
        "to_date": "2024-03-31",
        "total_amount": "12.50",
        "tax_return_frequency_id": "QUARTERLY",
    }
}


@pytest.fixture
def tax_return_with_header(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The operation as the 2025 spec declares it: with an X-Idempotency-Key header."""
    constant = "POST_MIGRATION_TAX_RETURNS"
    info = getattr(migration_tax_returns, constant)._replace(idempotency_header="X-Idempotency-Key")
    monkeypatch.setattr(migration_tax_returns, constant, info)
    monkeypatch.setattr("sage_accounting._runtime._client.time.sleep", lambda _s: None)
    yield


def created(request: httpx.Request) -> httpx.Response:
    return httpx.Response(201, json={"id": "t1"})


def test_the_idempotency_header_is_filled_and_reused_on_a_retry(
    make_client: Callable[..., Any], tax_return_with_header: None
) -> None:
    answers = iter([httpx.Response(503), httpx.Response(201, json={"id": "t1"})])
    client, rec = make_client(lambda r: next(answers))
    client.migration_tax_returns.create(**BODY)
    first, second = (r.headers.get("X-Idempotency-Key") for r in rec.requests)
    assert first is not None and re.fullmatch(r"[0-9a-f]{32}", first)
    assert first == second, "a retry must resend the same key"
    assert f'"idempotency_id":"{first}"' in rec.requests[0].content.decode().replace(" ", "")


def test_each_call_gets_its_own_key_and_a_chosen_one_is_used(
    make_client: Callable[..., Any], tax_return_with_header: None
) -> None:
    client, rec = make_client(created)
    client.migration_tax_returns.create(**BODY)
    client.migration_tax_returns.create(**BODY)
    client.migration_tax_returns.create(**BODY, idempotency_id="a" * 32)
    keys = [r.headers.get("X-Idempotency-Key") for r in rec.requests]
    assert keys[0] != keys[1] and keys[2] == "a" * 32


def test_without_a_key_the_post_is_not_retried(
    make_client: Callable[..., Any], tax_return_with_header: None
) -> None:
    client, rec = make_client(lambda r: httpx.Response(503))
    with pytest.raises(Exception):  # noqa: B017 - the 503's own error type is the client's business
        client.migration_tax_returns.create(**BODY, idempotency_id=False)
    assert len(rec.requests) == 1 and "X-Idempotency-Key" not in rec.requests[0].headers


def test_declared_headers_become_extra_headers_and_the_callers_own_win() -> None:
    options = with_headers(
        {"extra_headers": {"X-Trace": "mine"}}, {"X-Trace": "t", "X-Mode": 1, "X-No": None}
    )
    assert options["extra_headers"] == {"X-Mode": "1", "X-Trace": "mine"}


def test_a_declared_header_is_a_keyword_argument_of_the_generated_method(
    tmp_path: Any, raw_documents: dict[str, Any]
) -> None:
    """Rendered from a spec whose GET /contacts declares an X-Trace header (black not needed)."""
    from conftest import ACCOUNTS, write_spec_dir

    from sage_codegen import render
    from sage_codegen.ir_build import build_api
    from sage_codegen.loader import load_spec

    op = raw_documents[ACCOUNTS]["paths"]["/contacts"]["get"]
    op["parameters"].append({"in": "header", "name": "X-Trace", "type": "string"})
    spec_dir = write_spec_dir(tmp_path / "spec", raw_documents)
    api = build_api(load_spec([spec_dir]))
    sources = render.render_sources(api)
    source = sources["resources/contacts.py"]
    compile(source, "contacts.py", "exec")
    assert "x_trace: str | None = None," in source
    assert 'options=with_headers(options, {"X-Trace": x_trace}),' in source
    assert 'headers=("X-Trace",),' in source  # in the Operation the method passes
