"""Sage's spec as Sage publishes it today, built at test time from the current two documents.

Since late 2025 Sage publishes the v3.1 reference as one Swagger 2.0 document per module, each
with its own copy of the definitions it uses, and with faults. The real folder is not ours to
keep, so :func:`build_module_folder` makes one: the current documents' paths split into the
sixteen modules Sage names (by the path's first segment), each with the definitions it reaches,
and then the ten faults the real publication has (see :data:`FAULTS`). Tests, the bench and a
maintainer trying the generator all use this one builder.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HTTP_METHODS = ("get", "put", "post", "delete", "patch")

# Module of a path, by its first segment: the first rule with a matching fragment wins.
MODULE_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("attachments", ("attachment",)),
    ("opening_balances", ("opening_balance",)),
    ("banking", ("bank_",)),
    ("currencies", ("currenc", "exchange_rate")),
    ("invoicing_sales", ("sales_",)),
    ("invoicing_purchases", ("purchase_",)),
    (
        "invoicing_general",
        ("invoice_settings", "artefact", "corrective_reason", "quick_entry", "eu_"),
    ),
    ("payments", ("payment", "allocation")),
    ("contacts", ("contact", "address")),
    ("products_services", ("product", "service", "stock_", "catalog_item")),
    ("taxes", ("tax_",)),
    ("reporting", ("ledger_entries", "transaction")),
    ("settings", ("_settings", "countr", "business_", "legal_form")),
    ("accounting_setup", ("coa_", "ledger_account", "analysis_type", "journal_code", "migration")),
)
DEFAULT_MODULE = "accounting"
USER_MODULE = "user_businesses"  # the user-accounts document: /businesses and /user

FAULTS = (
    "trailing comma",
    "duplicate file",
    "unrelated JSON",
    "description-only copies",
    "conflicting copies",
    "responses with examples only",
    "$ref-to-array lists",
    "header parameter",
    "path as a type in an unreferenced definition",
    "access text phrasing",
)
NEW_ACCESS_HEAD = "Requires the authenticated user to have any of the following roles in the areas:"


@dataclass
class ModuleFolder:
    """What was built: the folder and where each fault was put (file names and details)."""

    directory: Path
    modules: dict[str, str] = field(default_factory=dict)  # module -> file name
    faults: dict[str, list[str]] = field(default_factory=dict)  # fault -> where

    def record(self, fault: str, where: str) -> None:
        self.faults.setdefault(fault, []).append(where)


def module_of(path: str) -> str:
    segment = path.strip("/").split("/")[0]
    for module, fragments in MODULE_RULES:
        if any(fragment in segment for fragment in fragments):
            return module
    return DEFAULT_MODULE


def split_into_modules(
    accounts: dict[str, Any], user_accounts: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """One Swagger 2.0 document per module, each with its own copy of the definitions it uses."""
    paths: dict[str, dict[str, Any]] = {}
    for path, item in accounts["paths"].items():
        paths.setdefault(module_of(path), {})[path] = item
    modules = {name: _module_document(accounts, items) for name, items in paths.items()}
    modules[USER_MODULE] = _module_document(user_accounts, user_accounts["paths"])
    return dict(sorted(modules.items()))


def _module_document(source: dict[str, Any], paths: dict[str, Any]) -> dict[str, Any]:
    doc = {
        k: copy.deepcopy(v) for k, v in source.items() if k not in ("paths", "definitions", "tags")
    }
    doc["paths"] = copy.deepcopy(paths)
    used_tags = {t for item in paths.values() for op in _ops(item) for t in op.get("tags") or []}
    doc["tags"] = [t for t in source.get("tags") or [] if t["name"] in used_tags]
    definitions = source.get("definitions") or {}
    reached: set[str] = set()
    todo = list(_refs(paths))
    while todo:
        name = todo.pop()
        if name not in reached:
            reached.add(name)
            todo.extend(_refs(definitions[name]))
    doc["definitions"] = {n: copy.deepcopy(s) for n, s in definitions.items() if n in reached}
    return doc


def build_module_folder(
    directory: Path, accounts: dict[str, Any], user_accounts: dict[str, Any]
) -> ModuleFolder:
    """Write the module documents with all ten faults into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    modules = split_into_modules(copy.deepcopy(accounts), copy.deepcopy(user_accounts))
    folder = ModuleFolder(directory, {m: f"swagger.{m}.json" for m in modules})
    _description_only_copies(modules, folder)
    _conflicting_copies(modules, folder)
    _examples_only_responses(modules, folder)
    _ref_to_array_lists(modules, folder)
    _header_parameter(modules, folder)
    _path_as_type(modules, folder)
    _access_phrasing(modules, folder)
    for module, doc in modules.items():
        text = json.dumps(doc, indent=2, ensure_ascii=False)
        if module == "contacts":  # 1. a trailing comma, after the last field of "info"
            end_of_info = text.index("\n  }", text.index('"info"'))
            text = text[:end_of_info] + "," + text[end_of_info:]
            folder.record("trailing comma", folder.modules[module])
        (directory / folder.modules[module]).write_text(text, encoding="utf-8")
    # 2. the same file twice, under the name a browser gives a second download
    twin = directory / "swagger.currencies (1).json"
    twin.write_bytes((directory / folder.modules["currencies"]).read_bytes())
    folder.record("duplicate file", twin.name)
    # 3. an unrelated JSON file
    (directory / "docs-manifest.json").write_text(
        json.dumps({"name": "sage-api-reference", "generated": "2025-11-03", "files": 16})
    )
    folder.record("unrelated JSON", "docs-manifest.json")
    return folder


# -- the faults --------------------------------------------------------------------------------------


def _shared_definitions(modules: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """Definitions copied into more than one module -> those modules, in file order."""
    holders: dict[str, list[str]] = {}
    for module, doc in modules.items():
        for name in doc["definitions"]:
            holders.setdefault(name, []).append(module)
    return {name: mods for name, mods in sorted(holders.items()) if len(mods) > 1}


def _description_only_copies(modules: dict[str, dict[str, Any]], folder: ModuleFolder) -> None:
    """4. The same definition in many modules, differing only in text and vendor extensions."""
    shared = _shared_definitions(modules)
    for name in [n for n, mods in shared.items() if len(mods) >= 3][:6]:
        for module in shared[name][1:]:
            definition = modules[module]["definitions"][name]
            definition["description"] = f"{definition.get('description', '')} ({module})".strip()
            definition["x-sage-menusection"] = module.replace("_", " ").title()
            folder.record("description-only copies", f"{module}:{name}")


def _conflicting_copies(modules: dict[str, dict[str, Any]], folder: ModuleFolder) -> None:
    """5. Real conflicts: a number property typed string in one copy; a property in one copy."""
    shared = _shared_definitions(modules)
    conflicts = 0
    for name, holders in shared.items():
        last = modules[holders[-1]]["definitions"][name]
        numbers = [
            p for p, s in (last.get("properties") or {}).items() if s.get("type") == "number"
        ]
        if numbers and conflicts < 2:
            last["properties"][numbers[0]] = {"type": "string", "description": "an amount"}
            last["properties"]["legacy_reference"] = {"type": "string"}
            folder.record("conflicting copies", f"{holders[-1]}:{name}.{numbers[0]}")
            conflicts += 1


def _examples_only_responses(modules: dict[str, dict[str, Any]], folder: ModuleFolder) -> None:
    """6. More than half of the operations answer with ``examples`` and no ``schema``."""
    ops = [(m, p, method, op) for m, doc in modules.items() for p, item in doc["paths"].items()
           for method, op in _methods(item)]  # fmt: skip
    with_schema = [(m, p, method, op) for m, p, method, op in ops if "schema" in _success(op)]
    for module, path, method, op in with_schema[: len(ops) // 2 + 1 + len(ops) // 10]:
        response = _success(op)
        response.pop("schema")
        response["examples"] = {"application/json": {"id": "abc123", "displayed_as": "Example"}}
        folder.record("responses with examples only", f"{module}:{method.upper()} {path}")


def _ref_to_array_lists(modules: dict[str, dict[str, Any]], folder: ModuleFolder) -> None:
    """7. Lists declared as a ``$ref`` to a definition of ``type: array`` (as UKI v3 does)."""
    for module, doc in modules.items():
        for path, item in doc["paths"].items():
            for method, op in _methods(item):
                schema = _success(op).get("schema") or {}
                ref = (schema.get("items") or {}).get("$ref", "")
                if schema.get("type") == "array" and ref:
                    list_name = ref.rsplit("/", 1)[-1] + "List"
                    doc["definitions"][list_name] = {"type": "array", "items": {"$ref": ref}}
                    _success(op)["schema"] = {"$ref": f"#/definitions/{list_name}"}
                    folder.record("$ref-to-array lists", f"{module}:{method.upper()} {path}")


def _header_parameter(modules: dict[str, dict[str, Any]], folder: ModuleFolder) -> None:
    """8. The tax-return POSTs require an ``X-Idempotency-Key`` header."""
    for module, doc in modules.items():
        for path, item in doc["paths"].items():
            if "tax_return" in path and "post" in item:
                item["post"].setdefault("parameters", []).append(
                    {"in": "header", "name": "X-Idempotency-Key", "type": "string",
                     "required": True, "description": "A unique key for this request"}  # fmt: skip
                )
                folder.record("header parameter", f"{module}:POST {path}")


def _path_as_type(modules: dict[str, dict[str, Any]], folder: ModuleFolder) -> None:
    """9. A path string used as a ``type`` value, inside a definition nothing references."""
    modules["reporting"]["definitions"]["LegacyTransactionLink"] = {
        "type": "object",
        "properties": {"transaction": {"type": "/transactions/{key}"}},
    }
    folder.record("path as a type in an unreferenced definition", "reporting:LegacyTransactionLink")


def _access_phrasing(modules: dict[str, dict[str, Any]], folder: ModuleFolder) -> None:
    """10. Access text in the 2025 phrasing (the accounting_setup module); one even newer line."""
    old_head = (
        "Requires the authenticated user to have any mentioned role in one of the listed areas:"
    )
    module = "accounting_setup"
    for path, item in modules[module]["paths"].items():
        for method, op in _methods(item):
            if old_head in op.get("description", ""):
                op["description"] = op["description"].replace(old_head, NEW_ACCESS_HEAD)
                folder.record("access text phrasing", f"{module}:{method.upper()} {path}")
    op = modules["reporting"]["paths"]["/transactions"]["get"]
    head, _, _ = op["description"].partition("### Access Control Restrictions")
    op["description"] = head + (
        "### Access Control Restrictions\n\nRequires the authenticated user to hold a role "
        "granted by the business owner in the area `Accounting`."
    )
    folder.record("access text phrasing", "reporting:GET /transactions (unparsable)")


# -- walking -----------------------------------------------------------------------------------------


def _ops(item: dict[str, Any]) -> Iterator[dict[str, Any]]:
    return (op for _method, op in _methods(item))


def _methods(item: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    return ((m, op) for m, op in item.items() if m in HTTP_METHODS)


def _success(op: dict[str, Any]) -> dict[str, Any]:
    codes = sorted(c for c in op["responses"] if str(c).startswith("2"))
    return op["responses"][codes[0]]  # type: ignore[no-any-return]


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/definitions/"):
            yield ref[len("#/definitions/") :]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)
