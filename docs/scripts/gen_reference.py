"""The reference pages, one per resource, written at build time by mkdocs-gen-files.

Why at build time and not by the code generator: the pages are a view of the generated package
(its operations table and its docstrings), so reading that package when the site is built means
they can never drift from it, and nothing generated has to be committed or checked twice. The
output depends only on the package, so the build is deterministic.

Each resource page has a table (method, HTTP call, what it takes and returns, access,
availability) read from ``sage_accounting._runtime.all_operations()`` and the methods' type hints,
what the methods raise, an example call per method, then mkdocstrings renders the resource class
from its docstrings. Table links use autorefs identifiers, so a method the table names but the
class lacks fails the ``--strict`` build.

Each model has a page of its own (``reference/models/<Model>.md``): its fields by wire name, with
their types (models linked to their pages), whether a request must carry them, and their
descriptions (the attribute docstrings of the generated class, read with ``ast``). The methods
that take or return a model link to its page.
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import re
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

REFERENCE_DIR = "reference"
MODELS_DIR = "models"  # under REFERENCE_DIR


@dataclass
class Resource:
    attribute: str  # client.<attribute>
    module: str  # sage_accounting.resources.<module>
    sync_class: str
    async_class: str
    title: str
    operations: list[Any] = field(default_factory=list)  # Operation, in spec order
    has_changes: bool = False

    @property
    def qualified(self) -> str:
        return f"{self.module}.{self.sync_class}"


def resources() -> list[Resource]:
    """Every resource of the package, sorted by title."""
    from sage_accounting._runtime import all_operations

    OPERATIONS = all_operations()

    found: dict[str, Resource] = {}
    for info in OPERATIONS.values():
        resource = found.get(info.resource)
        if resource is None:
            module_name = f"sage_accounting.resources.{info.resource}"
            module = importlib.import_module(module_name)
            sync_name, async_name = module.__all__
            title = (module.__doc__ or info.resource).split(":", 1)[0].strip()
            resource = found[info.resource] = Resource(
                attribute=info.resource,
                module=module_name,
                sync_class=sync_name,
                async_class=async_name,
                title=title,
                has_changes=hasattr(getattr(module, sync_name), "changes"),
            )
        resource.operations.append(info)
    return sorted(found.values(), key=lambda r: r.title.lower())


def access_text(access: Iterable[tuple[str, tuple[str, ...]]]) -> str:
    parts = [f"{area} ({', '.join(roles)})" for area, roles in access]
    return "; ".join(parts) or "not stated in the spec"


def availability_text(availability: Iterable[tuple[str, tuple[str, ...]]]) -> str:
    parts = [f"{edition} ({', '.join(countries)})" for edition, countries in availability]
    return "; ".join(parts) or "not stated in the spec"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


# -- models --------------------------------------------------------------------------------------


def model_names() -> list[str]:
    """Every model the package exports, sorted."""
    from sage_accounting import models

    return sorted(models.__all__)


@functools.cache
def _model_classes() -> dict[str, type[Any]]:
    from sage_accounting import models

    return {name: getattr(models, name) for name in model_names()}


@functools.cache
def _attribute_docs(module_name: str) -> dict[tuple[str, str], str]:
    """(class, attribute) -> the docstring written under the attribute in the module's source."""
    tree = ast.parse(inspect.getsource(importlib.import_module(module_name)))
    docs: dict[tuple[str, str], str] = {}
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        body = node.body
        for first, second in zip(body, body[1:], strict=False):
            if (
                isinstance(first, ast.AnnAssign)
                and isinstance(first.target, ast.Name)
                and isinstance(second, ast.Expr)
                and isinstance(second.value, ast.Constant)
                and isinstance(second.value.value, str)
            ):
                docs[(node.name, first.target.id)] = " ".join(second.value.value.split())
    return docs


def type_text(annotation: Any, link_prefix: str = "") -> str:
    """A type as a reader writes it (``list[Link] | None``), each model linked to its page."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return type_text(args[0], link_prefix)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(dict.fromkeys(type_text(a, link_prefix) for a in args))
    if origin is typing.Literal:
        return " | ".join(repr(a) for a in args)
    if origin is not None:
        inner = ", ".join(type_text(a, link_prefix) for a in args)
        return f"{getattr(origin, '__name__', str(origin))}[{inner}]"
    if annotation is type(None):
        return "None"
    if isinstance(annotation, type):
        name = annotation.__name__
        return f"[{name}]({link_prefix}{name}.md)" if name in _model_classes() else name
    return str(annotation).replace("typing.", "")


def model_link(name: str, prefix: str) -> str:
    return f"[`{name}`]({prefix}{name}.md)"


def _fields(cls: type[Any]) -> Iterable[tuple[str, str, Any, bool]]:
    """(attribute, wire name, type, required) of a pydantic model or of its TypedDict form."""
    if hasattr(cls, "model_fields"):
        for attribute, info in cls.model_fields.items():
            yield attribute, info.alias or attribute, info.annotation, info.is_required()
        return
    # A TypedDict form (``XParams``): required as in the model it is the dict form of.
    model = _model_classes().get(cls.__name__.removesuffix("Params"))
    known = getattr(model, "model_fields", {})
    for attribute, annotation in typing.get_type_hints(cls).items():
        info = known.get(attribute)
        yield attribute, attribute, annotation, bool(info and info.is_required())


def model_page(name: str, used_by: list[str]) -> str:
    cls = _model_classes()[name]
    docs = _attribute_docs(cls.__module__)
    summary = " ".join((cls.__doc__ or "").split())
    lines = [f"# {name}", "", summary or f"The `{name}` model.", ""]
    lines += [
        f"`from sage_accounting.models import {name}`. Fields by the name Sage uses on the wire "
        "(the Python attribute where it differs); a request body must carry the required ones.",
        "",
        "| field | type | required | description |",
        "| --- | --- | --- | --- |",
    ]
    fields = list(_fields(cls))
    for attribute, wire, annotation, required in fields:
        shown = f"`{wire}`" + (f" (`.{attribute}`)" if wire != attribute else "")
        description = docs.get((name, attribute), "")
        lines.append(
            f"| {shown} | {_cell(type_text(annotation))} | "
            f"{'yes' if required else 'no'} | {_cell(description)} |"
        )
    if not fields:
        lines.append("| (none) | | | |")
    if used_by:
        lines += ["", "Used by: " + ", ".join(sorted(set(used_by))) + "."]
    return "\n".join(lines) + "\n"


def models_index(names: list[str]) -> str:
    lines = [
        "# Models",
        "",
        f"{len(names)} models: what each method takes and returns, field by field.",
        "",
    ]
    lines += [f"- [`{name}`]({name}.md)" for name in names]
    return "\n".join(lines) + "\n"


# -- what a method takes, returns and raises --------------------------------------------------------


def takes(resource: Resource, info: Any, prefix: str) -> str:
    """The models a method's body parameter accepts, linked (from its signature's annotation)."""
    if not info.body_key:
        return ""
    cls = getattr(importlib.import_module(resource.module), resource.sync_class)
    parameter = inspect.signature(getattr(cls, info.name)).parameters.get(info.body_key)
    hint = str(parameter.annotation) if parameter is not None else ""
    names = [n for n in re.findall(r"\b([A-Z]\w*)\b", hint) if n in _model_classes()]
    return ", ".join(model_link(n, prefix) for n in dict.fromkeys(names)) or f"`{info.body_key}`"


def returns(info: Any, prefix: str) -> str:
    if info.model and info.model in _model_classes():
        link = model_link(info.model, prefix)
        return f"a pager of {link}" if info.kind == "list" else link
    if info.kind == "delete":
        return "`None`"
    return "`bytes`" if info.model is None and info.kind == "action" else "`None`"


RAISES = (
    "Every method checks its arguments before any request: a wrong one raises "
    "`SageArgumentError` (`ArgumentTypeError`, `ArgumentValueError`, `RequestValidationError` "
    "for a body that fails its model). Sage's answers raise `APIStatusError` subclasses: "
    "`NotFoundError` (404) for an id that is not there, `UnprocessableEntityError` (422) for a "
    "body Sage refuses (each field problem in `.errors`), `PermissionDeniedError` (403) when the "
    "user's role in the area is not one of those listed, `RateLimitError` (429) after the "
    "retries, `InternalServerError` (5xx); `APIConnectionError` when Sage cannot be reached. "
    "See [Errors](../errors.md)."
)


def example(resource: Resource, info: Any) -> str:
    call = f"client.{resource.attribute}.{info.name}"
    key = '"ID", ' if "{key}" in info.path else ""
    if info.kind == "list":
        return f'for record in {call}(attributes="all"):\n    print(record.displayed_as)'
    if info.body_key:
        return f"record = {call}({key}{info.body_key}={{...}})"
    return f"answer = {call}({key.rstrip(', ')})"


def resource_page(resource: Resource) -> str:
    lines = [
        f"# {resource.title}",
        "",
        f"Reach it as `client.{resource.attribute}`: "
        f"[`{resource.sync_class}`][{resource.qualified}] with `SageAccounting`, "
        f"`{resource.async_class}` with `AsyncSageAccounting` (the same methods, awaited; "
        "lists return async pagers).",
        "",
        "| method | HTTP | takes | returns | access (any one role) | availability |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    prefix = f"{MODELS_DIR}/"
    for info in resource.operations:
        link = f"[`{info.name}`][{resource.qualified}.{info.name}]"
        lines.append(
            f"| {link} | `{info.method} {info.path}` | {takes(resource, info, prefix)} "
            f"| {returns(info, prefix)} | {_cell(access_text(info.access))} "
            f"| {_cell(availability_text(info.availability))} |"
        )
    if resource.has_changes:
        lines.append(
            f"| [`changes`][{resource.qualified}.changes] | `GET` polling of `list` "
            "| `since=` a cursor | a change feed of `upsert`/`delete` changes "
            "| as `list` | as `list` |"
        )
    lines += ["", "## Errors", "", RAISES, "", "## Examples", "", "```python"]
    for info in resource.operations:
        lines.append(example(resource, info))
    lines += ["```", "", f"::: {resource.qualified}", ""]
    return "\n".join(lines)


def index_page(all_resources: list[Resource]) -> str:
    count = sum(len(r.operations) for r in all_resources)
    lines = [
        "# API reference",
        "",
        f"{len(all_resources)} resources, {count} operations, each a method of "
        "`SageAccounting` (and, awaited, `AsyncSageAccounting`). Every page lists the methods "
        "with their HTTP call, the roles that may call them and where Sage offers them, then "
        "each method's parameters from its docstring.",
        "",
        "| resource | client attribute | methods |",
        "| --- | --- | --- |",
    ]
    for r in all_resources:
        names = [info.name for info in r.operations] + (["changes"] if r.has_changes else [])
        lines.append(
            f"| [{r.title}]({r.attribute}.md) | `client.{r.attribute}` | {', '.join(names)} |"
        )
    return "\n".join(lines) + "\n"


def pages() -> dict[str, str]:
    """Every reference page (path under docs/ -> Markdown), including the literate-nav SUMMARY."""
    all_resources = resources()
    out = {f"{REFERENCE_DIR}/index.md": index_page(all_resources)}
    summary = ["* [Overview](index.md)"]
    for r in all_resources:
        out[f"{REFERENCE_DIR}/{r.attribute}.md"] = resource_page(r)
        summary.append(f"* [{r.title}]({r.attribute}.md)")
    used_by: dict[str, list[str]] = {}
    for r in all_resources:
        for info in r.operations:
            for text in (takes(r, info, ""), returns(info, "")):
                for name in re.findall(r"\[`(\w+)`\]", text):
                    used_by.setdefault(name, []).append(
                        f"[`{r.attribute}.{info.name}`](../{r.attribute}.md)"
                    )
    names = model_names()
    out[f"{REFERENCE_DIR}/{MODELS_DIR}/index.md"] = models_index(names)
    summary.append(f"* [Models]({MODELS_DIR}/index.md)")
    for name in names:
        out[f"{REFERENCE_DIR}/{MODELS_DIR}/{name}.md"] = model_page(name, used_by.get(name, []))
        summary.append(f"    * [{name}]({MODELS_DIR}/{name}.md)")
    out[f"{REFERENCE_DIR}/SUMMARY.md"] = "\n".join(summary) + "\n"
    return out


def main() -> None:
    import mkdocs_gen_files  # only present when mkdocs runs this file

    for path, text in pages().items():
        with mkdocs_gen_files.open(path, "w") as handle:
            handle.write(text)


if __name__ in ("__main__", "<run_path>"):  # mkdocs-gen-files runs scripts with run_path
    main()
