"""Contract: every operation of the spec documents is reachable through exactly one method, with
the right HTTP method and path, and every definition has a model.

This walks the JSON documents itself (not the generator's IR) and drives the generated client
through a mock transport, so it checks what users get, not what the generator meant.
"""

from __future__ import annotations

import inspect
import json
import sys
import typing
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel

import sage_accounting.models as models
from sage_accounting import AsyncSageAccounting, SageAccounting
from sage_accounting._runtime import all_operations

OPERATIONS = all_operations()

METHODS = ("get", "post", "put", "delete", "patch")


def spec_operations(paths: list[Path]) -> set[tuple[str, str]]:
    found = set()
    for path in paths:
        doc = json.loads(path.read_text(encoding="utf-8"))
        for route, item in doc["paths"].items():
            for method in item:
                if method in METHODS:
                    found.add((method.upper(), route))
    return found


# Methods that are not spec operations: the change feed (two list calls) is tested on its own.
HELPERS = {"changes"}


def public_methods(resource: Any) -> list[str]:
    return [
        name
        for name, value in inspect.getmembers(type(resource), inspect.isfunction)
        if not name.startswith("_") and name not in HELPERS
    ]


class _ModelsNamespace(dict[str, Any]):
    """A resource module's names, plus the models it imports only for type checking."""

    def __missing__(self, name: str) -> Any:
        import builtins

        return getattr(builtins, name) if hasattr(builtins, name) else getattr(models, name)


def dummy_arguments(method: Any) -> tuple[list[Any], dict[str, Any]]:
    """Values for every required argument: path keys become ``__name__`` markers."""
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    raw_hints = inspect.get_annotations(method)
    namespace = _ModelsNamespace(vars(sys.modules[method.__module__]))
    for name, param in inspect.signature(method).parameters.items():
        if name == "self" or param.kind is param.VAR_KEYWORD or param.default is not param.empty:
            continue
        if param.kind is param.POSITIONAL_OR_KEYWORD:
            args.append(f"__{name}__")
            continue
        annotation = eval(raw_hints[name], {}, namespace)  # noqa: S307 - our own annotations
        if typing.get_origin(annotation) is typing.Literal:
            kwargs[name] = typing.get_args(annotation)[0]
            continue
        model = next(
            (
                a
                for a in getattr(annotation, "__args__", ())
                if isinstance(a, type) and issubclass(a, BaseModel)
            ),
            None,
        )
        kwargs[name] = model.model_construct() if model else "x"
    return args, kwargs


def answer(request: httpx.Request) -> httpx.Response:
    if request.headers.get("accept") == "application/octet-stream":
        return httpx.Response(200, content=b"%PDF")
    if request.method == "DELETE":
        return httpx.Response(204)
    if (request.method, route_of(request)) in LIST_ROUTES:
        return httpx.Response(200, json={"$items": [], "$total": 0, "$page": 1, "$next": None})
    return httpx.Response(200, json={"id": "x"})  # a record: an envelope is refused for a get


LIST_ROUTES = {(op.method, op.path) for op in OPERATIONS.values() if op.kind == "list"}


def route_of(request: httpx.Request, base_path: str = "/v3.1") -> str:
    path = request.url.path[len(base_path) :]
    return "/".join(
        "{" + seg[2:-2] + "}" if seg.startswith("__") else seg for seg in path.split("/")
    )


def test_every_operation_has_exactly_one_method(spec_paths: list[Path]) -> None:
    expected = spec_operations(spec_paths)
    assert len(expected) == 287 + 5
    reached: dict[tuple[str, str], list[str]] = {}
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(request)

    client = SageAccounting(
        access_token="t", http_client=httpx.Client(transport=httpx.MockTransport(handler))
    )
    resources = {route.strip("/").split("/")[0] for _m, route in expected}
    for resource_name in sorted(resources):
        resource = getattr(client, resource_name)
        for name in public_methods(resource):
            method = getattr(resource, name)
            args, kwargs = dummy_arguments(method)
            before = len(seen)
            result = method(*args, **kwargs)
            if hasattr(result, "pages"):  # a pager asks when iterated
                list(result)
            assert (
                len(seen) == before + 1
            ), f"client.{resource_name}.{name}() sent {len(seen) - before} requests"
            request = seen[-1]
            reached.setdefault((request.method, route_of(request)), []).append(
                f"{resource_name}.{name}"
            )
    assert set(reached) == expected
    assert {k: v for k, v in reached.items() if len(v) != 1} == {}


async def test_the_async_client_has_the_same_methods() -> None:
    sync_client = SageAccounting(access_token="t")
    async_client = AsyncSageAccounting(access_token="t")
    for name in dir(type(sync_client)):
        attribute = getattr(type(sync_client), name)
        if (
            isinstance(attribute, property)
            and not name.startswith("_")
            and name
            not in ("business_id", "base_url", "quota", "quota_hook")  # values, not resources
        ):
            sync_methods = public_methods(getattr(sync_client, name))
            async_resource = getattr(async_client, name)
            assert public_methods(async_resource) == sync_methods
            for method in sync_methods:
                async_method = getattr(async_resource, method)
                if method != "list":
                    assert inspect.iscoroutinefunction(async_method), f"{name}.{method}"
                sync_sig = inspect.signature(getattr(getattr(sync_client, name), method))
                assert list(inspect.signature(async_method).parameters) == list(sync_sig.parameters)
    sync_client.close()
    await async_client.close()


def test_every_definition_has_a_model_with_every_property(spec_paths: list[Path]) -> None:
    count = 0
    for path in spec_paths:
        doc = json.loads(path.read_text(encoding="utf-8"))
        for name, definition in doc["definitions"].items():
            model = getattr(models, name[0].upper() + name[1:])
            assert issubclass(model, BaseModel)
            wire_names = {
                field.alias or field_name for field_name, field in model.model_fields.items()
            }
            assert set(definition.get("properties", {})) <= wire_names, name
            count += 1
    assert count == 197 + 6


def test_each_operation_names_the_method_users_call() -> None:
    """The operations table says where each operation lives (the sandbox and agent policies
    rely on it): ``client.<resource>.<name>`` exists, and list operations return lists."""
    from sage_accounting import SageAccounting
    from sage_accounting._runtime import all_operations

    OPERATIONS = all_operations()

    client = SageAccounting(access_token="t")
    for operation_id, op in OPERATIONS.items():
        method = getattr(getattr(client, op.resource), op.name, None)
        assert callable(method), f"{operation_id}: client.{op.resource}.{op.name} missing"
        assert op.kind in {"list", "get", "create", "update", "delete", "action"}
        if op.body_key is not None:
            assert op.method in {"POST", "PUT"}, operation_id
        if op.kind == "list":
            assert op.method == "GET" and op.model, operation_id
