"""The loader: Swagger 2.0 -> OpenAPI 3.0 upconversion, merging, validation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sage_codegen.errors import SpecError
from sage_codegen.ir_build import build_api
from sage_codegen.loader import SpecDocument, load_spec, to_openapi3, validate
from sage_codegen.swagger2 import SOURCE_KEY


def swagger(**extra: Any) -> dict[str, Any]:
    """A small Swagger 2.0 document using each construct the Sage spec uses."""
    doc: dict[str, Any] = {
        "swagger": "2.0",
        "info": {"title": "t", "version": "3.1"},
        "host": "api.example.com",
        "basePath": "/v3.1",
        "schemes": ["https"],
        "produces": ["application/json"],
        "paths": {
            "/things/{key}": {
                "parameters": [{"in": "path", "name": "key", "type": "string", "required": True}],
                "x-sage-pathtitle": "a thing",
                "put": {
                    "summary": "Updates a Thing",
                    "description": "### Endpoint Availability\n\n* Accounting Plus: 🇬🇧",
                    "operationId": "putThingsKey",
                    "tags": ["Things"],
                    "consumes": ["application/json"],
                    "parameters": [
                        {"in": "body", "name": "putThings", "required": True,
                         "schema": {"$ref": "#/definitions/putThings"}},
                        {"in": "query", "name": "mode", "type": "string", "enum": ["a", "b"],
                         "default": "a", "required": False},
                        {"in": "query", "name": "since", "type": "string", "format": "date-time"},
                    ],
                    "responses": {
                        "200": {"description": "ok", "schema": {"$ref": "#/definitions/Thing"},
                                "headers": {"X-Business": {"type": "string"}}},
                    },
                },
            },
            "/things/{key}/file": {
                "get": {
                    "tags": ["Things"],
                    "parameters": [
                        {"in": "path", "name": "key", "type": "string", "required": True},
                        {"in": "header", "name": "Accept", "type": "string", "required": True,
                         "description": "Set to `application/octet-stream`."},
                    ],
                    "responses": {"200": {"description": "the file", "schema": {"type": "file"}}},
                }
            },
        },
        "definitions": {
            "Thing": {
                "type": "object",
                "properties": {
                    "$path": {"type": "string"},
                    "amount": {"type": "number", "format": "double"},
                    "parent": {"$ref": "#/definitions/Thing", "description": "The parent thing"},
                    "tags": {"type": "array"},
                    "note": {"type": "string", "x-nullable": True},
                },
            },
            "putThings": {
                "type": "object",
                "properties": {
                    "thing": {"type": "object", "required": ["amount"],
                              "properties": {"amount": {"type": "number", "format": "double"}}}
                },
            },
        },
    }  # fmt: skip
    doc.update(extra)
    return doc


def convert(doc: dict[str, Any], name: str = "things.json") -> dict[str, Any]:
    return to_openapi3(SpecDocument(name, "0" * 64, doc))


def test_each_swagger_construct_is_converted_and_validates() -> None:
    out = convert(swagger())
    validate(out)  # openapi-pydantic accepts the result
    assert out["openapi"].startswith("3.0")
    assert out["servers"] == [{"url": "https://api.example.com/v3.1"}]
    op = out["paths"]["/things/{key}"]["put"]
    # body parameter -> requestBody with the consumed media type; its name kept
    assert op["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/putThings"
    }
    assert op["requestBody"]["x-body-name"] == "putThings"
    assert op["requestBody"]["required"] is True
    # query parameter: type keywords move into `schema`; path-level parameter inherited
    params = {p["name"]: p for p in op["parameters"]}
    assert params["mode"]["schema"] == {"type": "string", "enum": ["a", "b"], "default": "a"}
    assert params["since"]["schema"] == {"type": "string", "format": "date-time"}
    assert params["key"]["in"] == "path" and params["key"]["required"] is True
    # produces -> response content; headers get schemas
    response = op["responses"]["200"]
    assert response["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/Thing"
    assert response["headers"]["X-Business"]["schema"] == {"type": "string"}
    # x- extensions on path items survive
    assert out["paths"]["/things/{key}"]["x-sage-pathtitle"] == "a thing"
    # definitions -> components/schemas; a description beside $ref is kept
    thing = out["components"]["schemas"]["Thing"]
    assert thing["properties"]["parent"] == {
        "$ref": "#/components/schemas/Thing",
        "description": "The parent thing",
    }
    assert thing["properties"]["tags"] == {"type": "array", "items": {}}
    assert thing["properties"]["note"]["nullable"] is True
    # type: file -> binary string; a missing operationId is synthesized in Sage's convention
    file_op = out["paths"]["/things/{key}/file"]["get"]
    assert file_op["responses"]["200"]["content"]["application/json"]["schema"] == {
        "type": "string",
        "format": "binary",
    }
    assert file_op["operationId"] == "getThingsKeyFile"
    # every operation and definition remembers where it came from
    assert op[SOURCE_KEY] == "things.json#/paths/~1things~1{key}/put"
    assert thing[SOURCE_KEY] == "things.json#/definitions/Thing"


def test_the_real_documents_convert_completely(loaded_spec) -> None:  # type: ignore[no-untyped-def]
    doc = loaded_spec.document
    ops = [
        op
        for item in doc["paths"].values()
        for m, op in item.items()
        if m in ("get", "put", "post", "delete")
    ]
    assert len(ops) == 292
    assert len(doc["components"]["schemas"]) == 197 + 6
    assert sum("requestBody" in op for op in ops) == 82 + 2
    # Sage documents fields with a description beside the $ref: kept for docstrings.
    transaction = doc["components"]["schemas"]["SalesInvoice"]["properties"]["transaction"]
    assert transaction["description"] and transaction["$ref"].endswith("/Transaction")


def test_user_accounts_operations_get_synthesized_ids(loaded_spec) -> None:  # type: ignore[no-untyped-def]
    paths = loaded_spec.document["paths"]
    ids = {
        (path, method): op["operationId"]
        for path in ("/businesses", "/businesses/{key}", "/user")
        for method, op in paths[path].items()
        if isinstance(op, dict) and "operationId" in op
    }
    assert ids == {
        ("/businesses", "get"): "getBusinesses",
        ("/businesses/{key}", "get"): "getBusinessesKey",
        ("/businesses/{key}", "put"): "putBusinessesKey",
        ("/user", "get"): "getUser",
        ("/user", "put"): "putUser",
    }


def test_an_openapi3_document_loads_like_its_swagger_original(tmp_path: Path, api) -> None:  # type: ignore[no-untyped-def]
    originals = {
        name: json.loads((Path("spec") / name).read_text(encoding="utf-8"))
        for name in ("accounts.swagger.json", "user-accounts.swagger.json")
    }
    converted = convert(originals["accounts.swagger.json"], "accounts.swagger.json")
    text = json.dumps(converted).replace(f'"{SOURCE_KEY}"', '"x-original-source"')
    (tmp_path / "accounts.openapi.json").write_text(text, encoding="utf-8")
    (tmp_path / "user.json").write_text(json.dumps(originals["user-accounts.swagger.json"]))
    rebuilt = build_api(load_spec([tmp_path]))
    signature = [
        (o.operation_id, o.method, o.path, o.py_name, o.access) for o in rebuilt.operations
    ]
    assert signature == [
        (o.operation_id, o.method, o.path, o.py_name, o.access) for o in api.operations
    ]
    assert {m.name for m in rebuilt.models} == {m.name for m in api.models}


def test_merging_keeps_identical_definitions_and_merges_conflicting_ones_by_rule(
    tmp_path: Path,
) -> None:
    first = swagger()
    second = swagger(paths={"/others": {"get": {"operationId": "getOthers", "responses": {"200": {"description": "ok", "schema": {"$ref": "#/definitions/Thing"}}}}}})  # fmt: skip
    (tmp_path / "a.json").write_text(json.dumps(first))
    (tmp_path / "b.json").write_text(json.dumps(second))
    loaded = load_spec([tmp_path / "a.json", tmp_path / "b.json"])
    assert set(loaded.document["paths"]) == {"/things/{key}", "/things/{key}/file", "/others"}
    assert loaded.report.warnings == []

    second["definitions"]["Thing"]["properties"]["extra"] = {"type": "string"}
    (tmp_path / "b.json").write_text(json.dumps(second))
    loaded = load_spec([tmp_path / "a.json", tmp_path / "b.json"])
    assert "extra" in loaded.document["components"]["schemas"]["Thing"]["properties"]
    [warning] = loaded.report.warnings
    assert warning.file.endswith("b.json")
    assert warning.pointer == "/definitions/Thing/properties/extra"
    assert "a.json#/definitions/Thing" in warning.message
    with pytest.raises(SpecError) as err:
        load_spec([tmp_path / "a.json", tmp_path / "b.json"], strict=True)
    assert err.value.file.endswith("b.json")
    assert err.value.pointer == "/definitions/Thing/properties/extra"


def test_merging_refuses_documents_of_another_server(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps(swagger()))
    (tmp_path / "b.json").write_text(json.dumps(swagger(host="other.example.com", paths={})))
    with pytest.raises(SpecError, match="host and base path"):
        load_spec([tmp_path / "a.json", tmp_path / "b.json"])


def test_copies_with_one_type_but_different_enums_accept_both(tmp_path: Path) -> None:
    first = swagger()
    second = swagger(paths={})
    first["definitions"]["Thing"]["properties"]["kind"] = {"type": "string", "enum": ["a"]}
    second["definitions"]["Thing"]["properties"]["kind"] = {"type": "string", "enum": ["b", "a"]}
    (tmp_path / "a.json").write_text(json.dumps(first))
    (tmp_path / "b.json").write_text(json.dumps(second))
    loaded = load_spec([tmp_path / "a.json", tmp_path / "b.json"])
    kind = loaded.document["components"]["schemas"]["Thing"]["properties"]["kind"]
    assert kind == {"type": "string", "enum": ["a", "b"]}
    [warning] = loaded.report.warnings
    assert warning.pointer == "/definitions/Thing/properties/kind"
    assert "a.json#/definitions/Thing/properties/kind" in warning.message
