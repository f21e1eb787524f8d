"""Errors a user can meet from the public surface, attacked: each is a typed SageError naming
its cause (an ``ArgumentValueError`` is a ``ValueError`` still, for code that caught that)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from sage_accounting import (
    ArgumentValueError,
    AsyncSageAccounting,
    OutOfOrderError,
    Quota,
    QuotaLimits,
    RateLimit,
)
from sage_accounting.agents import SQLiteAuditSink, verify


def a_file(headers: dict[str, str]) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(200, content=b"%PDF-1.7", headers=headers)


@pytest.mark.parametrize(
    "headers",
    [
        {},  # no Content-Disposition
        {"Content-Disposition": "attachment"},  # no file name in it
        {"Content-Disposition": "attachment; filename*=UTF-8''a%00b.pdf"},  # a NUL in the name
    ],
)
def test_a_download_into_a_directory_without_a_usable_name_is_an_argument_error(
    make_client: Callable[..., Any], tmp_path: Path, headers: dict[str, str]
) -> None:
    client, _ = make_client(a_file(headers))
    with client.attachments.with_streaming_response.get_file("a1") as file:
        with pytest.raises(ArgumentValueError, match="give a file path") as raised:
            file.write_to(tmp_path)
    assert raised.value.argument == "path" and isinstance(raised.value, ValueError)
    assert list(tmp_path.iterdir()) == []


def test_a_head_that_is_not_one_is_an_argument_error(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    SQLiteAuditSink(path).close()
    with pytest.raises(ArgumentValueError, match="is not a head") as raised:
        verify(path, "yesterday")
    assert raised.value.argument == "expect_head" and isinstance(raised.value, ValueError)


# -- a download read out of its order (against the sandbox: a real connection, really closed) --


@pytest.fixture
def attachment(fake_sage: Any) -> tuple[Any, str]:
    fake_sage.seed("attachments", 1)
    client = fake_sage.client()
    return client, client.attachments.list().first_page().items[0].id


def test_a_download_read_after_its_with_block_is_out_of_order(
    attachment: tuple[Any, str], tmp_path: Path
) -> None:
    """It was httpx.StreamClosed, no SageError."""
    client, key = attachment
    with client.attachments.with_streaming_response.get_file(key) as file:
        pass
    for read in (lambda: list(file.iter_bytes()), lambda: file.write_to(tmp_path / "f")):
        with pytest.raises(OutOfOrderError, match="inside its `with` block"):
            read()
    assert file.filename is not None  # what the headers said is still there
    assert list(tmp_path.iterdir()) == []


def test_a_download_read_twice_is_out_of_order(attachment: tuple[Any, str], tmp_path: Path) -> None:
    """It was httpx.StreamConsumed, no SageError."""
    client, key = attachment
    with client.attachments.with_streaming_response.get_file(key) as file:
        first = b"".join(file.iter_bytes())
        with pytest.raises(OutOfOrderError, match="read once"):
            file.write_to(tmp_path / "again")
    assert list(tmp_path.iterdir()) == []
    with client.attachments.with_streaming_response.get_file(key) as file:  # a new download
        assert b"".join(file.iter_bytes()) == first


def test_a_download_entered_twice_at_once_is_out_of_order(attachment: tuple[Any, str]) -> None:
    """The second enter sent the request again and left the first answer's connection open."""
    client, key = attachment
    stream = client.attachments.with_streaming_response.get_file(key)
    with stream:
        with pytest.raises(OutOfOrderError, match="open already"):
            stream.__enter__()
    with stream as file:  # after its block, entered again: downloaded again
        assert file.filename is not None and b"".join(file.iter_bytes()) is not None


def test_an_async_download_read_after_its_block_is_out_of_order(
    fake_sage: Any,
) -> None:
    import asyncio

    fake_sage.seed("attachments", 1)

    async def main() -> None:
        client = fake_sage.async_client()
        key = (await client.attachments.list().first_page()).items[0].id
        async with client.attachments.with_streaming_response.get_file(key) as file:
            pass
        with pytest.raises(OutOfOrderError, match="inside its `with` block"):
            file.aiter_bytes()
        await client.close()

    asyncio.run(main())


@pytest.mark.parametrize(
    ("make", "argument"),
    [
        (lambda: QuotaLimits(in_flight=0), "in_flight"),
        (lambda: QuotaLimits(business_per_day=-1), "business_per_day"),
        (lambda: QuotaLimits(business_rate=RateLimit(0, per=60)), "business_rate"),
        (lambda: Quota(on_limit="sometimes"), "on_limit"),  # type: ignore[arg-type]
        (lambda: AsyncSageAccounting(access_token="t").contacts.list().concurrent(0), "pages"),
    ],
)
def test_a_quota_or_pager_setting_out_of_range_is_an_argument_error(
    make: Callable[[], object], argument: str
) -> None:
    """These were bare ValueErrors, which ``except SageError`` does not catch."""
    with pytest.raises(ArgumentValueError) as raised:
        make()
    assert raised.value.argument == argument and isinstance(raised.value, ValueError)
