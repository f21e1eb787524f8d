"""Parsing a 200-invoice page with every attribute filled, bytes -> models, vs `json.loads` of the
same bytes (target <= 2.5x)."""

from __future__ import annotations

import datetime as dt
import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel

sys.path.insert(0, str(Path(__file__).parent))
from _timing import interleaved, report  # noqa: E402

from sage_accounting._runtime._pagination import parse_page  # noqa: E402
from sage_accounting.models import SalesInvoice  # noqa: E402

REPEAT = 30


REFERENCE = {
    "id": "9a994b92267a11e797950a57719b2edb",
    "displayed_as": "Reference",
    "$path": "/x/9a99",
}


def filled(model: type[BaseModel], depth: int = 0) -> dict[str, Any]:
    """A wire-shaped object with every field of ``model`` filled, as Sage sends it with
    ``attributes=all``: nested records as references (id, displayed_as, $path), lists of lines
    with every attribute of each line (two lines per invoice), money as strings."""
    from typing import get_args, get_origin

    out: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        key = field.alias or name
        annotation = field.annotation
        text = str(annotation)
        args = [a for a in get_args(annotation) if a is not type(None)] or [annotation]
        target = args[0]
        if get_origin(target) is list:
            (item,) = get_args(target)
            if isinstance(item, type) and issubclass(item, BaseModel):
                out[key] = (
                    [filled(item, depth + 1) for _ in range(2)] if depth == 0 else [REFERENCE]
                )
            else:
                out[key] = ["a", "b"]
        elif isinstance(target, type) and issubclass(target, BaseModel):
            out[key] = dict(REFERENCE)
        elif target is Decimal:
            out[key] = "1234.56"
        elif target is bool:
            out[key] = True
        elif target is int:
            out[key] = 7
        elif "lenient date-time" in text or target is dt.datetime:
            out[key] = "2026-11-21T10:11:12Z"
        elif "lenient date" in text or target is dt.date:
            out[key] = "2026-11-21"
        else:
            out[key] = f"value of {key}"
    return out


def page_bytes(n: int = 200) -> bytes:
    invoice = filled(SalesInvoice)
    items = [dict(invoice, id=f"inv{i}") for i in range(n)]
    envelope = {
        "$total": n,
        "$page": 1,
        "$next": None,
        "$back": None,
        "$itemsPerPage": n,
        "$items": items,
    }
    return json.dumps(envelope).encode()


def main() -> bool:
    content = page_bytes()
    page = parse_page(content, SalesInvoice)  # also builds the deferred validators once
    assert len(page.items) == 200 and isinstance(page.items[0].total_amount, Decimal)
    print(
        f"page: {len(content) / 1e6:.2f} MB, {len(json.loads(content)['$items'][0])} attributes per invoice"
    )
    subject, baseline = interleaved(
        lambda: parse_page(content, SalesInvoice), lambda: json.loads(content), REPEAT
    )
    return report("200 invoices bytes -> models", subject, baseline, 2.5)


if __name__ == "__main__":
    main()
