"""Calling any operation of the SDK through the SDK against the sandbox, with plausible
arguments: shared by the sandbox's own test and the test that serves Sage's real publication
(generated in a copy of the project, run in a process of its own)."""

from __future__ import annotations

import base64
import datetime as dt
import types
import typing
from decimal import Decimal
from importlib import import_module
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from sage_accounting import SageAccounting
from sage_accounting._runtime import Operation
from sage_accounting.testing import SageSandbox


def body_model(info: Operation) -> type[BaseModel] | None:
    """The request model the SDK validates a body with (``models.post_x`` / ``models.put_x``)."""
    module = import_module(f"sage_accounting.models.{info.method.lower()}_{info.resource}")
    for value in vars(module).values():
        fields = getattr(value, "model_fields", None)
        if isinstance(fields, dict) and info.body_key in fields:
            inner = fields[info.body_key].annotation
            return inner if isinstance(inner, type) and issubclass(inner, BaseModel) else None
    return None


def sample(annotation: Any) -> Any:
    """A plausible value of a request field's type."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return sample(next(a for a in typing.get_args(annotation) if a is not type(None)))
    if origin is typing.Annotated:
        return sample(typing.get_args(annotation)[0])
    if origin is list:
        return [sample(typing.get_args(annotation)[0])]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return filled(annotation)
    if annotation is Decimal:
        return Decimal("12.50")
    if annotation is bool:
        return True
    if annotation is int:
        return 1
    if annotation is dt.datetime:
        return dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC)
    if annotation is dt.date:
        return dt.date(2026, 11, 2)
    return "GB_STANDARD"


def filled(model: type[BaseModel]) -> dict[str, Any]:
    return {name: sample(f.annotation) for name, f in model.model_fields.items() if f.is_required()}


def record_for(sandbox: SageSandbox, info: Operation) -> str:
    """A record for a keyed operation to act on, put straight into the lead business."""
    if info.resource == "businesses":
        return sandbox.lead_business
    fields: dict[str, Any] = {}
    if info.name == "release":
        fields["status_id"] = "DRAFT"
    if info.name == "get_file":
        fields.update(
            file=base64.b64encode(b"%PDF-1.7 sandbox").decode(), mime_type="application/pdf"
        )
    return sandbox.seed(info.resource, 1, **fields)[0]


def call(sandbox: SageSandbox, client: SageAccounting, info: Operation) -> tuple[str, Any]:
    """(the key it acted on, or "", what the SDK method returned)."""
    method = getattr(getattr(client, info.resource), info.name)
    key = record_for(sandbox, info) if "{key}" in info.path else ""
    kwargs: dict[str, Any] = {
        name: (q.enum[0] if q.enum else "sales") for name, q in info.query.items() if q.required
    }
    if info.body_key:
        model = body_model(info)
        kwargs[info.body_key] = filled(model) if model else {}
    result = method(key, **kwargs) if key else method(**kwargs)
    return key, result.first_page() if info.kind == "list" else result


def check_answer(sandbox: SageSandbox, info: Operation, key: str, result: Any) -> None:
    """What the SDK method returned is what its operation promises."""
    if info.kind == "list":
        assert isinstance(result.items, list) and len(result.items) == min(result.total, 20)
    elif info.kind == "delete":
        assert (result is None) == (info.model is None)
        assert sandbox.records(info.resource)[key]["deleted_at"]
    elif info.model is None:
        assert result == b"%PDF-1.7 sandbox"
    else:
        assert isinstance(result, BaseModel)
        if info.kind == "create":
            assert result.id in sandbox.records(info.resource)  # type: ignore[attr-defined]


def serve_every_operation() -> dict[str, Any]:
    """Every operation of the importable ``sage_accounting``, called against a new sandbox:
    ``{"package": its path, "operations": n, "failures": {operation id: why}}``. Run in a
    process of its own by tests whose package is generated from another spec."""
    import sage_accounting
    from sage_accounting._runtime import all_operations

    failures: dict[str, str] = {}
    operations = all_operations()
    with SageSandbox() as sandbox, sandbox.client(timeout=5.0, max_retries=0) as client:
        for operation_id, info in sorted(operations.items()):
            try:
                key, result = call(sandbox, client, info)
                check_answer(sandbox, info, key, result)
            except Exception as exc:  # noqa: BLE001 - each failure is reported, not raised
                failures[operation_id] = f"{type(exc).__name__}: {exc}"[:500]
    return {
        "package": str(Path(sage_accounting.__file__).parent),
        "operations": len(operations),
        "failures": failures,
    }


if __name__ == "__main__":
    import json

    print(json.dumps(serve_every_operation()))
