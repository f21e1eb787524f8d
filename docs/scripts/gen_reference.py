"""The reference pages, one per resource, written at build time by mkdocs-gen-files.

Why at build time and not by the code generator: the pages are a view of the generated package
(its operations table and its docstrings), so reading that package when the site is built means
they can never drift from it, and nothing generated has to be committed or checked twice. The
output depends only on the package, so the build is deterministic.

Each page has a table (method, HTTP call, access, availability) read from
``sage_accounting._runtime.all_operations()``, then mkdocstrings renders the resource class from its
docstrings. Table links use autorefs identifiers, so a method the table names but the class lacks
fails the ``--strict`` build.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

REFERENCE_DIR = "reference"


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


def resource_page(resource: Resource) -> str:
    lines = [
        f"# {resource.title}",
        "",
        f"Reach it as `client.{resource.attribute}`: "
        f"[`{resource.sync_class}`][{resource.qualified}] with `SageAccounting`, "
        f"`{resource.async_class}` with `AsyncSageAccounting` (the same methods, awaited; "
        "lists return async pagers).",
        "",
        "| method | HTTP | access (any one role) | availability |",
        "| --- | --- | --- | --- |",
    ]
    for info in resource.operations:
        link = f"[`{info.name}`][{resource.qualified}.{info.name}]"
        lines.append(
            f"| {link} | `{info.method} {info.path}` | {_cell(access_text(info.access))} "
            f"| {_cell(availability_text(info.availability))} |"
        )
    if resource.has_changes:
        lines.append(
            f"| [`changes`][{resource.qualified}.changes] | `GET` polling of `list` "
            "| as `list` | as `list` |"
        )
    lines += ["", f"::: {resource.qualified}", ""]
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
    out[f"{REFERENCE_DIR}/SUMMARY.md"] = "\n".join(summary) + "\n"
    return out


def main() -> None:
    import mkdocs_gen_files  # only present when mkdocs runs this file

    for path, text in pages().items():
        with mkdocs_gen_files.open(path, "w") as handle:
            handle.write(text)


if __name__ in ("__main__", "<run_path>"):  # mkdocs-gen-files runs scripts with run_path
    main()
