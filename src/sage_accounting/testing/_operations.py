"""One handler per operation kind (list, get, create, update, delete, action).

The kind, the path, the body's wrapper key and the response model all come from the SDK's
operations table, so every operation of the spec reaches one of these. Actions, by name:

- ``release`` (invoices, credit notes): a ``DRAFT`` artefact becomes ``UNPAID``; anything else
  is 422 ``RecordInvalid``.
- ``reissue`` (journals): a new journal copying the old one, which is deleted; returns the new.
- an action without a response model (``attachments.get_file``): the record's ``file`` (base64,
  as it was uploaded) as bytes, with its ``mime_type`` and ``file_name``.
- any other GET action (``bank_accounts.bank_feed``): the record's field of that name, else a
  link to the action's path; any other POST action: the record, touched.
"""

from __future__ import annotations

import base64
import binascii
import json
from decimal import Decimal
from functools import cache
from importlib import import_module
from typing import Any, get_args

from .._runtime import Operation, wire
from .._runtime.wire import takes_business
from . import _records
from ._records import GLOBAL
from ._routes import Match
from ._state import Record, Reply, State, error, parse_time, timestamp


def _not_found(resource: str, key: str | None) -> Reply:
    return Reply(404, error("RecordNotFound", f"There is no {resource} with id {key}", "key"))


def _invalid(message: str, source: str) -> Reply:
    return Reply(422, error("RecordInvalid", message, source))


@cache
def create_model(resource: str, body_key: str, verb: str = "post") -> Any:
    """The SDK's request model of a create (``verb`` "post": ``models.post_x``) or update
    ("put") body's record, or None."""
    try:
        module = import_module(f"sage_accounting.models.{verb}_{resource}")
    except ImportError:
        return None
    for value in vars(module).values():
        fields = getattr(value, "model_fields", None)
        if isinstance(fields, dict) and body_key in fields:
            annotation = fields[body_key].annotation  # the model, or the model | None
            models = [t for t in (annotation, *get_args(annotation)) if isinstance(t, type)]
            return models[0] if models else None
    return None


@cache
def required_fields(resource: str, body_key: str) -> tuple[str, ...]:
    """The fields a create body must carry, from the SDK's request model (``models.post_x``)."""
    inner = getattr(create_model(resource, body_key), "model_fields", {})
    return tuple(name for name, f in inner.items() if f.is_required())


def wrong_types(
    resource: str, body_key: str, body: dict[str, Any], verb: str = "post"
) -> Reply | None:
    """A 422 with one of Sage's errors per field whose value has the wrong type (a number for a
    name, "abc" for money, 2026-13-45 for a date, a string for lines), from the request model;
    unknown fields, enums and lengths are left to the rest of the sandbox, as before."""
    from pydantic import ValidationError

    model = create_model(resource, body_key, verb)
    if model is None:
        return None
    try:
        model(**body)
    except ValueError as exc:  # RequestValidationError, raised from pydantic's error
        cause = exc.__context__
        if not isinstance(cause, ValidationError):
            raise
        found = [
            error("RecordInvalid", f"{where} {problem['msg'].lower()}", where)[0]
            for problem in cause.errors(include_url=False, include_input=False)
            if problem["type"].endswith(("_type", "_parsing"))
            for where in [".".join(str(part) for part in problem["loc"])]
        ]
        return Reply(422, found) if found else None
    return None


def _blank(value: Any) -> bool:
    return value is None or value == "" or value == []


def _body(raw: bytes, body_key: str | None) -> dict[str, Any] | Reply:
    try:
        data = json.loads(raw or b"{}", parse_float=Decimal)
    except (ValueError, RecursionError):  # RecursionError: nested too deep to read
        return Reply(400, error("BadRequest", "The request body is not valid JSON"))
    if not isinstance(data, dict):
        return Reply(400, error("BadRequest", "The request body must be a JSON object"))
    inner = data.get(body_key, {}) if body_key else data
    if not isinstance(inner, dict):
        return _invalid(f"{body_key} must be an object", body_key or "")
    return inner


def _bad_query(info: Operation, query: dict[str, str]) -> Reply | None:
    """A query value its parameter's kind (from the operations table) cannot read, as a 422."""
    for name, value in query.items():
        param = info.query.get(name)
        if param is None or value == "":
            continue
        try:
            if param.kind == "integer":
                int(value)
            elif param.kind in ("date", "datetime"):
                parse_time(value)
            elif param.kind == "boolean" and value.lower() not in ("true", "false"):
                raise ValueError(value)
        except ValueError:
            return _invalid(f"{name} is not a valid {param.kind}: {value!r}", name)
        if param.enum and value not in param.enum:
            return _invalid(f"{name} must be one of {', '.join(param.enum)}", name)
    return None


def handle(state: State, match: Match, business: str, query: dict[str, str], raw: bytes) -> Reply:
    """Answer one API request (``state.lock`` is held by the caller)."""
    info = match.route.info
    refused = _bad_query(info, query)
    if refused is not None:
        return refused
    resource = info.resource
    owner = business if takes_business(info.path) else GLOBAL
    records = state.records[(owner, resource)]
    key = match.key
    if key == "lead" and resource == "businesses":
        key = state.lead_business
    if info.kind == "list":
        payload = _records.envelope(records.values(), info.path, query)
        if resource == "businesses":  # Sage's one list that spells it so, and has no pages
            payload[wire.ITEMS_PER_PAGE_BUSINESSES] = payload.pop(wire.ITEMS_PER_PAGE)
        return Reply(200, payload)
    if info.kind == "create":
        body = _body(raw, info.body_key)
        if isinstance(body, Reply):
            return body
        return _create(state, owner, resource, info.body_key or resource, body)
    if key is None:  # a settings-like resource: one record per business
        record = _records.singleton(state, owner, resource)
    else:
        found = records.get(key)
        if found is None or found.get("deleted_at"):
            return _not_found(resource, key)
        record = found
    if info.kind == "get":
        return Reply(200, record)
    if info.kind == "update":
        body = _body(raw, info.body_key)
        if isinstance(body, Reply):
            return body
        refused = wrong_types(resource, info.body_key or resource, body, "put")
        if refused is not None:
            return refused
        return Reply(200, _records.update(state, owner, resource, record, body))
    if info.kind == "delete":
        record["deleted_at"] = record["updated_at"] = timestamp(state.clock.now())
        return Reply(200, record) if info.model else Reply(204)  # a few answer the voided record
    return _action(state, owner, resource, info.name, info.method, info.model, record)


def _create(
    state: State, business: str, resource: str, body_key: str, body: dict[str, Any]
) -> Reply:
    idempotency_id = body.get(wire.IDEMPOTENCY_FIELD)
    remembered = (business, resource, str(idempotency_id))
    if idempotency_id and remembered in state.idempotency:
        status, replay = state.idempotency[remembered]
        return Reply(status, replay)  # the first answer again: one record, however many tries
    for name in required_fields(resource, body_key):
        if _blank(body.get(name)):
            return _invalid(f"{name} can't be blank", name)
    refused = wrong_types(resource, body_key, body)
    if refused is not None:
        return refused
    encoded = json.dumps(_records.create(state, business, resource, body), default=str).encode()
    if idempotency_id:
        state.idempotency[remembered] = (201, encoded)
    return Reply(201, encoded)


def _action(
    state: State,
    business: str,
    resource: str,
    name: str,
    method: str,
    model: str | None,
    record: Record,
) -> Reply:
    if name == "release":
        status = record.get("status")
        if not (isinstance(status, dict) and status.get("id") == "DRAFT"):
            return _invalid("Only a draft can be released", "status")
        record["status"] = _records.link(state, business, "artefact_statuses", "UNPAID")
        record["updated_at"] = timestamp(state.clock.now())
        return Reply(200, record)
    if name == "reissue":
        copied = {
            k: v
            for k, v in record.items()
            if k not in (*wire.LINK_FIELDS, "created_at", "updated_at", "deleted_at")
        }
        record["deleted_at"] = timestamp(state.clock.now())
        return Reply(200, _records.create(state, business, resource, copied))
    if model is None:  # a file download
        try:
            content = base64.b64decode(record.get("file") or b"", validate=False)
        except (binascii.Error, ValueError):
            content = str(record.get("file")).encode()
        headers = {
            "Content-Type": str(record.get("mime_type") or "application/octet-stream"),
            "Content-Disposition": f'attachment; filename="{record.get("file_name") or "file"}"',
        }
        return Reply(200, content, headers)
    if method == "GET":
        if isinstance(record.get(name), dict):
            return Reply(200, record[name])
        path = f"{record.get('$path')}/{name}"
        return Reply(200, {"id": record.get("id"), "displayed_as": name, wire.RECORD_PATH: path})
    record["updated_at"] = timestamp(state.clock.now())
    return Reply(200, record)
