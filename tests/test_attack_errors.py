"""Errors a user can meet from the public surface, attacked: each is a typed SageError naming
its cause (an ``ArgumentValueError`` is a ``ValueError`` still, for code that caught that)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from sage_accounting import ArgumentValueError
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
