"""How spec names become Python names. Pure functions; golden cases in tests/test_naming.py."""

from __future__ import annotations

import keyword
import re

# Attributes a pydantic model already has: a field may not shadow them.
_PYDANTIC_RESERVED = {
    "copy", "dict", "json", "schema", "schema_json", "construct", "validate", "fields",
    "parse_obj", "parse_raw", "parse_file", "from_orm", "update_forward_refs",
}  # fmt: skip


def words(name: str) -> list[str]:
    """Split any spelling into lower-case words: "postSalesInvoices", "Sales Invoices",
    "sales_invoices" and "GBBoxData" all work."""
    name = re.sub(r"[^0-9A-Za-z]+", " ", name)
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", name)
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [w.lower() for w in name.split()]


def snake(name: str) -> str:
    return "_".join(words(name))


def pascal(name: str) -> str:
    """PascalCase; a name that already is PascalCase (with acronyms: GBBoxData) is kept."""
    if re.fullmatch(r"[A-Z][A-Za-z0-9]*", name):
        return name
    return "".join(w[:1].upper() + w[1:] for w in words(name))


def singular(word: str) -> str:
    """The singular of the last word of a snake_case name: invoice_lines -> invoice_line."""
    head, _, last = word.rpartition("_")
    if last.endswith("ies") and len(last) > 3:
        last = last[:-3] + "y"
    elif last.endswith(("sses", "xes", "ches", "shes", "uses")):
        last = last[:-2]
    elif last == "people":
        last = "person"
    elif last.endswith("s") and not last.endswith(("ss", "us", "is")):
        last = last[:-1]
    return f"{head}_{last}" if head else last


def python_identifier(name: str) -> str:
    """A safe attribute / argument name for a wire name: $path -> path, import -> import_."""
    ident = re.sub(r"[^0-9A-Za-z_]", "", name.lstrip("$"))
    ident = snake(ident) if not re.fullmatch(r"[a-z0-9_]+", ident) else ident
    if not ident or ident[0].isdigit():
        ident = f"field_{ident}"
    if keyword.iskeyword(ident) or keyword.issoftkeyword(ident) or ident in _PYDANTIC_RESERVED:
        ident += "_"
    if ident.startswith("model_"):
        ident = f"{ident}_"
    return ident


def join_overlapping(parent: str, child: str) -> str:
    """Join two PascalCase names, merging a shared word: SalesInvoice + InvoiceLine ->
    SalesInvoiceLine (not SalesInvoiceInvoiceLine)."""
    parent_words = re.findall(r"[A-Z][a-z0-9]*|[a-z0-9]+", parent)
    child_words = re.findall(r"[A-Z][a-z0-9]*|[a-z0-9]+", child)
    # The parent keeps at least one word of its own: Journal + JournalCode stays JournalJournalCode.
    for size in range(min(len(parent_words) - 1, len(child_words)), 0, -1):
        if parent_words[-size:] == child_words[:size]:
            return parent + "".join(child_words[size:])
    return parent + child


def operation_method_name(
    http_method: str, path: str, resource_path: str, is_list: bool, is_binary: bool
) -> str:
    """The method name on the resource.

    GET collection -> list; GET item or singleton -> get; POST collection -> create;
    PUT -> update; DELETE -> delete. An action path (``/sales_invoices/{key}/release``) is named
    after its last segment (``release``); a GET of binary content is ``get_<segment>``
    (``get_file``), so a download reads as one.
    """
    rest = path[len(resource_path) :].strip("/")
    segments = [s for s in rest.split("/") if s and not s.startswith("{")]
    method = http_method.lower()
    if not segments:
        return {
            "get": "list" if is_list else "get",
            "post": "create",
            "put": "update",
            "patch": "update",
            "delete": "delete",
        }[method]
    action = snake("_".join(segments))
    if method == "get" and is_binary:
        return f"get_{action}"
    return action
