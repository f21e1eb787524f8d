"""Read spec documents, upconvert them to OpenAPI 3.0, merge them into one API, validate it.

``load_spec(paths)`` is the single entry point used by ``generate``, ``inspect`` and ``diff``.
Any problem raises :class:`SpecError` naming the file and the JSON pointer at fault.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openapi_pydantic.v3.v3_0 import OpenAPI
from pydantic import ValidationError

from .errors import SpecError, pointer
from .merge import merge
from .overlays import apply_overlays
from .report import Report
from .swagger2 import HTTP_METHODS, SCHEMA_TYPES, SOURCE_KEY, Swagger2Converter


@dataclass(frozen=True)
class SpecDocument:
    """One input file as read: its display name, sha256 and parsed JSON."""

    name: str
    sha256: str
    data: dict[str, Any]


@dataclass(frozen=True)
class LoadedSpec:
    """The merged OpenAPI 3.0 document, the files it came from and what was decided on the way."""

    document: dict[str, Any]
    sources: tuple[SpecDocument, ...]
    report: Report = field(default_factory=Report, compare=False)

    @property
    def digest(self) -> str:
        """One short hash naming the whole input set (order-independent)."""
        joined = ",".join(sorted(f"{Path(s.name).name}:{s.sha256}" for s in self.sources))
        return hashlib.sha256(joined.encode()).hexdigest()[:16]


def expand_inputs(inputs: Iterable[Path]) -> list[Path]:
    """Files as given; a directory stands for every ``*.json`` file in it, sorted by name.

    Which of them are API documents is decided by their content (see :func:`intake`), never by
    their names.
    """
    paths: list[Path] = []
    for path in inputs:
        if path.is_dir():
            found = sorted(
                p
                for p in path.glob("*.json")
                if not p.name.startswith(".") and not p.name.endswith(".lock.json")
            )
            if not found:
                raise SpecError(str(path), "", "directory holds no *.json spec document")
            paths.extend(found)
        else:
            paths.append(path)
    return paths


def load_spec(
    inputs: Sequence[Path],
    *,
    strict: bool = False,
    overlays: Sequence[Path] = (),
    report: Report | None = None,
) -> LoadedSpec:
    """Read, intake, apply overlays, convert, merge and validate: the one way specs are loaded.

    Faults with one safe reading become warnings in the returned report (errors if ``strict``).
    """
    report = report if report is not None else Report(strict=strict)
    documents = intake(expand_inputs(inputs), report)
    if overlays:
        documents = apply_overlays(documents, overlays, report)
    converted = [to_openapi3(doc, report) for doc in documents]
    merged = merge(converted, [doc.name for doc in documents], report)
    validate(merged)
    return LoadedSpec(merged, tuple(documents), report)


# -- reading ----------------------------------------------------------------------------------------


def intake(paths: Sequence[Path], report: Report) -> list[SpecDocument]:
    """The API documents among ``paths``, decided by content.

    A file that is JSON but neither Swagger 2.0 nor OpenAPI is skipped; a byte-identical copy of
    another document is dropped (the shortest name is kept: ``x.json`` over ``x (1).json``). Both
    are reported as warnings, so ``--strict`` still refuses a folder that holds them.
    """
    kept: dict[str, SpecDocument] = {}  # by sha256
    for path in sorted(paths, key=lambda p: (len(p.name), p.name)):
        doc = read_document(path, report)
        if "swagger" not in doc.data and "openapi" not in doc.data:
            report.warn(
                "not-an-api-document",
                doc.name,
                "",
                "neither a Swagger 2.0 nor an OpenAPI 3.0 document: skipped",
            )
            continue
        if doc.sha256 in kept:
            report.warn(
                "duplicate-document",
                doc.name,
                "",
                f"byte-identical to {kept[doc.sha256].name}: dropped",
            )
            continue
        kept[doc.sha256] = doc
    if not kept:
        raise SpecError(", ".join(str(p) for p in paths), "", "no Swagger or OpenAPI document")
    return sorted(kept.values(), key=lambda d: d.name)


MAX_DEPTH = 64
"""Sage's documents nest 17 levels at most; deeper than this is refused (the builder recurses)."""


def read_document(path: Path, report: Report | None = None) -> SpecDocument:
    name = str(path)
    report = report if report is not None else Report(strict=True)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SpecError(name, "", f"cannot read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(name, "", f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if text.startswith("\ufeff"):
        # A byte order mark says "UTF-8" once more; JSON forbids it, its one reading is without.
        report.warn("encoding", name, "", "UTF-8 byte order mark at the start: read without it")
        text = text[1:]
    duplicates = _DuplicateKeys()
    try:
        data = json.loads(text, object_pairs_hook=duplicates.hook)
    except json.JSONDecodeError as exc:
        duplicates.found.clear()  # read again, without the commas
        data = _read_with_trailing_commas(name, text, exc, report, duplicates.hook)
    except RecursionError:
        raise SpecError(name, "", f"nested deeper than {MAX_DEPTH} levels") from None
    if not isinstance(data, dict):
        raise SpecError(name, "", "a spec document must be a JSON object")
    _check_depth(name, data)
    duplicates.report(name, data, report)
    return SpecDocument(name, hashlib.sha256(raw).hexdigest(), data)


class _DuplicateKeys:
    """Keys written twice in one JSON object (``json`` keeps the last silently). Equal values have
    one reading (a warning); different ones have none (refused)."""

    def __init__(self) -> None:
        self.found: list[tuple[dict[str, Any], str, bool]] = []  # (object, key, values equal)

    def hook(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                self.found.append((out, key, out[key] == value))
                if out[key] != value:
                    continue  # refused in report(); keep the first meanwhile
            out[key] = value
        return out

    def report(self, name: str, data: dict[str, Any], report: Report) -> None:
        if not self.found:
            return
        where = _pointers_of_objects(data)
        for obj, key, equal in self.found:
            at = where.get(id(obj), "") + pointer(key)
            if not equal:
                raise SpecError(name, at, f"key {key!r} written twice with different values")
            report.warn("duplicate-key", name, at, f"key {key!r} written twice, equal: one kept")


def _pointers_of_objects(data: Any) -> dict[int, str]:
    found: dict[int, str] = {}
    todo: list[tuple[Any, str]] = [(data, "")]
    while todo:
        node, where = todo.pop()
        if isinstance(node, dict):
            found[id(node)] = where
            todo.extend((v, where + pointer(k)) for k, v in node.items())
        elif isinstance(node, list):
            todo.extend((v, f"{where}/{i}") for i, v in enumerate(node))
    return found


def _check_depth(name: str, data: Any) -> None:
    """Refuse, at its pointer, the first value nested deeper than ``MAX_DEPTH``."""
    todo: list[tuple[Any, str, int]] = [(data, "", 0)]
    while todo:
        node, where, depth = todo.pop()
        if depth > MAX_DEPTH:
            raise SpecError(name, where, f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(node, dict):
            todo.extend((v, where + pointer(k), depth + 1) for k, v in node.items())
        elif isinstance(node, list):
            todo.extend((v, f"{where}/{i}", depth + 1) for i, v in enumerate(node))


def _read_with_trailing_commas(
    name: str,
    text: str,
    error: json.JSONDecodeError,
    report: Report,
    hook: Callable[[list[tuple[str, Any]]], dict[str, Any]],
) -> Any:
    """A trailing comma (``[1, 2,]``) has one safe reading: the comma is dropped and reported.

    Any other malformed JSON is an error at the first fault, as before.
    """
    malformed = SpecError(
        name,
        _pointer_at(text, error.pos),
        f"malformed JSON: {error.msg} (line {error.lineno}, column {error.colno})",
    )
    trailing = _trailing_commas(text)
    if not trailing:
        raise malformed
    kept = [
        text[start:end]
        for start, end in zip([0, *(p + 1 for p in trailing)], [*trailing, len(text)], strict=True)
    ]
    try:
        data = json.loads("".join(kept), object_pairs_hook=hook)
    except json.JSONDecodeError:
        raise malformed from None
    for pos in trailing:
        line = text.count("\n", 0, pos) + 1
        column = pos - (text.rfind("\n", 0, pos) + 1) + 1
        # the comma itself is an error under --strict, exactly as json reports it
        report.warn(
            "json-syntax",
            name,
            _pointer_at(text, pos),
            f"malformed JSON: trailing comma (line {line}, column {column}): read without it",
        )
    return data


def _trailing_commas(text: str) -> list[int]:
    """Offsets of commas outside strings that end a non-empty object or array (``[1, 2,]``)."""
    found: list[int] = []
    in_string = escaped = False
    for i, ch in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == ",":
            rest = text[i + 1 : i + 200].lstrip()
            before = text[max(0, i - 200) : i].rstrip()
            # "[1, 2,]" has one reading; "{,}" or "[1,,]" has none: those stay errors
            if rest[:1] in ("}", "]") and before[-1:] not in ("{", "[", ",", ""):
                found.append(i)
    return found


def _pointer_at(text: str, pos: int) -> str:
    """The JSON pointer of the value being read at ``pos`` (best effort, for error messages)."""
    stack: list[list[Any]] = []  # [kind, key-or-index, expecting_key]
    i = 0
    last_string = ""
    while i < min(pos, len(text)):
        ch = text[i]
        if ch == '"':
            end = i + 1
            while end < len(text) and text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            try:
                last_string = json.loads(text[i : end + 1])
            except json.JSONDecodeError:
                last_string = text[i + 1 : end]
            if stack and stack[-1][0] == "{" and stack[-1][2]:
                stack[-1][1] = last_string
            i = end + 1
            continue
        if ch == "{":
            stack.append(["{", None, True])
        elif ch == "[":
            stack.append(["[", 0, False])
        elif ch in "}]":
            if stack:
                stack.pop()
        elif ch == ":" and stack and stack[-1][0] == "{":
            stack[-1][2] = False
        elif ch == "," and stack:
            if stack[-1][0] == "[":
                stack[-1][1] += 1
            else:
                stack[-1][2] = True
        i += 1
    return pointer(*(frame[1] for frame in stack if frame[1] is not None))


# -- one document to OpenAPI 3.0 ---------------------------------------------------------------------


def to_openapi3(doc: SpecDocument, report: Report | None = None) -> dict[str, Any]:
    data = doc.data
    if data.get("swagger") == "2.0":
        converted = Swagger2Converter(data, doc.name, report).convert()
    elif isinstance(data.get("openapi"), str) and data["openapi"].startswith("3.0"):
        converted = _check_openapi3(data, doc.name)
    elif "openapi" in data:
        raise SpecError(doc.name, "/openapi", f"unsupported OpenAPI version {data['openapi']!r}")
    else:
        raise SpecError(doc.name, "", "neither a Swagger 2.0 nor an OpenAPI 3.0 document")
    _synthesize_operation_ids(converted)
    return converted


def _check_openapi3(data: dict[str, Any], file: str) -> dict[str, Any]:
    """Check an OpenAPI 3.0 input the way the converter checks Swagger, and stamp sources."""
    doc: dict[str, Any] = json.loads(json.dumps(data))  # a private copy we may annotate
    schemas = (doc.get("components") or {}).get("schemas") or {}

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                prefix = "#/components/schemas/"
                if not ref.startswith(prefix):
                    raise SpecError(file, f"{where}/$ref", f"unsupported $ref {ref!r}")
                if ref[len(prefix) :] not in schemas:
                    raise SpecError(file, f"{where}/$ref", f"dangling $ref: {ref!r}")
            kind = node.get("type")
            if isinstance(kind, str) and where.rsplit("/", 1)[-1] != "properties":
                if kind not in SCHEMA_TYPES:
                    raise SpecError(file, f"{where}/type", f"unknown type {kind!r}")
            for key, value in node.items():
                walk(value, f"{where}{pointer(key)}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{where}/{index}")

    walk(doc, "")
    for path, item in (doc.get("paths") or {}).items():
        for method, op in item.items():
            if method in HTTP_METHODS and isinstance(op, dict):
                op[SOURCE_KEY] = f"{file}#{pointer('paths', path, method)}"
    for name, schema in schemas.items():
        if isinstance(schema, dict):
            schema[SOURCE_KEY] = f"{file}#{pointer('components', 'schemas', name)}"
    return doc


def _synthesize_operation_ids(doc: dict[str, Any]) -> None:
    """Give operations without an operationId one in Sage's own convention.

    Sage names ``GET /sales_invoices/{key}/release`` ``getSalesInvoicesKeyRelease``: the method,
    then each path segment in PascalCase with the braces dropped. The user-accounts document has no
    operationIds at all, so ``GET /businesses/{key}`` becomes ``getBusinessesKey``.
    """
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in HTTP_METHODS and not op.get("operationId"):
                segments = [s.strip("{}") for s in path.split("/") if s]
                words = [w for s in segments for w in re.split(r"[_\-]", s) if w]
                op["operationId"] = method + "".join(w[:1].upper() + w[1:] for w in words)
                op["x-codegen-synthesized-id"] = True


# -- validation ------------------------------------------------------------------------------------


def validate(document: dict[str, Any]) -> None:
    """Validate the merged document with openapi-pydantic; map the first error to its source."""
    try:
        OpenAPI.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        location = [str(part) for part in first["loc"]]
        file, where = source_of(document, location)
        raise SpecError(file, where, f"invalid OpenAPI: {first['msg']}") from None


def source_of(document: dict[str, Any], location: list[str]) -> tuple[str, str]:
    """Map a location in the merged document to ``(file, pointer)`` in the source document.

    Walks down ``location`` remembering the deepest node stamped with ``x-codegen-source``; the
    rest of the location is appended to that node's source pointer.
    """
    node: Any = document
    file, base, consumed = "(merged)", "", 0
    for depth, part in enumerate(location):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            break
        if isinstance(node, dict) and SOURCE_KEY in node:
            file, base = node[SOURCE_KEY].split("#", 1)
            consumed = depth + 1
    rest = location[consumed:]
    if file == "(merged)":
        return file, pointer(*location)
    return file, base + pointer(*rest)
