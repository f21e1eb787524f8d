"""Bodies decode to the same values, exact for money, with jiter (a dependency) or
the standard library (where jiter is missing); anything jiter refuses is decided by the standard library.
"""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from exact_values import same

from sage_accounting._runtime import _envelope
from sage_accounting._runtime._encoding import UTF8_BOM
from sage_accounting._runtime._encoding import loads as stdlib_loads

WIRE = Path(__file__).resolve().parents[2] / "shared" / "wire" / "ledgerscope"


def test_jiter_decodes_list_pages_when_installed() -> None:
    assert _envelope.loads is not stdlib_loads


@pytest.mark.parametrize("name", sorted(p.name for p in WIRE.glob("*.json")))
def test_real_pages_decode_alike(name: str) -> None:
    content = (WIRE / name).read_bytes().removeprefix(UTF8_BOM)
    assert same(_envelope.loads(content), stdlib_loads(content))


@pytest.mark.parametrize(
    "body",
    [
        b'{"total": 1.10, "balance": 12345678901234567.891, "n": 3, "e": 10E2, "z": -0.0}',
        b'{"big": 123456789012345678901234567890, "tiny": 1e-400, "huge": 1e400}',
        b'{"a": 1, "a": 2}',  # duplicate key: the last one, as json.loads
        b'["NaN is a float to json.loads", NaN, Infinity, -Infinity]',
        b'["a lone surrogate \\ud800 (json.loads keeps it)"]',
        b'["\xed\xa0\x80"]',  # a surrogate in UTF-8 bytes
        '{"utf-16": "é"}'.encode("utf-16"),
        b'{"text": "\\u00e9\\n\\"", "empty": "", "t": true, "f": false, "n": null}',
    ],
)
def test_edge_bodies_decode_alike(body: bytes) -> None:
    assert same(_envelope.loads(body), stdlib_loads(body))
    assert same(_envelope.loads(body), json.loads(body, parse_float=Decimal))


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"a": 1,}', "Expecting property name"),
        (b"[1] x", "Extra data"),
        (b'{"name": "\xff\xfe"}', "utf-8"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ],
)
def test_a_body_jiter_refuses_is_refused_for_the_stdlibs_reason(body: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        _envelope.loads(body)


def test_without_jiter_pages_decode_with_the_standard_library() -> None:
    code = """
import sys
class Missing:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "jiter":
            raise ModuleNotFoundError(name=name)
sys.meta_path.insert(0, Missing())
import httpx
from sage_accounting._runtime import _envelope
from sage_accounting._runtime._encoding import loads
from sage_accounting._runtime._pagination import parse_response_page
from sage_accounting.models import SalesInvoice
assert _envelope.loads is loads
body = b'{"$items": [{"id": "i1", "total_amount": 1.10}]}'
request = httpx.Request("GET", "https://api.accounting.sage.com/v3.1/sales_invoices")
page = parse_response_page(httpx.Response(200, content=body, request=request), SalesInvoice)
print(repr(page.items[0].total_amount))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Decimal('1.10')"
