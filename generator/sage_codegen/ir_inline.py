"""Inline objects: every object schema written inside a definition becomes a named model class.

Sites are collected before any type is read (``Schemas.type`` looks their names up by
pointer); equal schemas share one class; names are readable and deterministic, never numbered.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from .errors import escape_pointer_token
from .ir import Model, ModelRole
from .ir_schemas import Schemas, is_inline_object, spec_error
from .naming import join_overlapping, pascal, singular, snake
from .sage_rules import inline_name_suffix, request_verb_stripped


@dataclass
class InlineSite:
    """One place an inline object schema appears; sites with equal schemas may share a class."""

    schema_key: str
    schema: dict[str, Any]
    base: str  # preferred PascalCase name without suffix, e.g. InvoiceLine
    suffix: str  # Create / Update / ""
    parent: InlineSite | None
    parent_definition: str
    role: ModelRole
    pointer: str
    name: str = ""


def name_inline_objects(schemas: Schemas, roles: dict[str, ModelRole]) -> list[InlineSite]:
    """Every inline object's site, named (the names recorded in ``schemas.inline_name``)."""
    sites = _collect_sites(schemas, roles)
    _Namer(schemas).name(sites)
    return sites


def inline_models(schemas: Schemas, sites: list[InlineSite]) -> list[Model]:
    """One model per distinct inline name, in the order first met."""
    declared_in: dict[str, set[str]] = defaultdict(set)
    first: dict[str, InlineSite] = {}
    for site in sites:
        declared_in[site.name].add(site.parent_definition)
        first.setdefault(site.name, site)
    return [
        Model(
            name=name,
            role=site.role,
            fields=schemas.fields(site.schema, site.pointer, site.role),
            description=str(site.schema.get("description", "")).strip(),
            availability=None,
            definition=None,
            declared_in=tuple(sorted(declared_in[name])),
            pointer=site.pointer,
        )
        for name, site in first.items()
    ]


def _collect_sites(schemas: Schemas, roles: dict[str, ModelRole]) -> list[InlineSite]:
    sites: list[InlineSite] = []
    for name, schema in schemas.definitions.items():
        suffix = inline_name_suffix(name)
        _walk(schema, schemas.source(name), None, name, suffix, roles[name], sites)
    return sites


def _walk(
    schema: dict[str, Any],
    where: str,
    parent: InlineSite | None,
    definition: str,
    suffix: str,
    role: ModelRole,
    sites: list[InlineSite],
) -> None:
    for prop, prop_schema in (schema.get("properties") or {}).items():
        prop_where = f"{where}/properties/{escape_pointer_token(prop)}"
        target, base = prop_schema, pascal(prop)
        if prop_schema.get("type") == "array":
            target, base = prop_schema.get("items") or {}, pascal(singular(snake(prop)))
            prop_where += "/items"
        if is_inline_object(target):
            site = InlineSite(
                schema_key=json.dumps(target, sort_keys=True, ensure_ascii=False) + role,
                schema=target,
                base=base,
                suffix=suffix,
                parent=parent,
                parent_definition=definition,
                role=role,
                pointer=prop_where,
            )
            sites.append(site)
            _walk(target, prop_where, site, definition, suffix, role, sites)


class _Namer:
    def __init__(self, schemas: Schemas) -> None:
        self.schemas = schemas

    def name(self, sites: list[InlineSite]) -> None:
        """Readable, deterministic names for inline objects.

        The preferred name is the property's (singular for array items) plus Create/Update for
        request bodies: ``invoice_lines`` in postSalesInvoices -> ``InvoiceLineCreate``. Sites
        with equal schemas share one class. Different schemas wanting one name are each
        qualified with their parent's name (``SalesInvoiceLineCreate``,
        ``PurchaseInvoiceLineCreate``), and again with the grandparent's if needed; never with a
        number.
        """
        taken = set(self.schemas.model_names.values())
        by_depth: dict[int, list[InlineSite]] = defaultdict(list)
        for site in sites:
            by_depth[_depth(site)].append(site)
        for depth in sorted(by_depth):
            wanted: dict[str, dict[str, list[InlineSite]]] = defaultdict(dict)
            for site in by_depth[depth]:
                wanted[site.base + site.suffix].setdefault(site.schema_key, []).append(site)
            for preferred, groups in wanted.items():
                shared = len(groups) == 1 and preferred not in taken
                for group in groups.values():
                    name = preferred if shared else self._qualified(group, taken)
                    for site in group:
                        site.name = name
                        self.schemas.inline_name[site.pointer] = name
                    taken.add(name)

    def _owner(self, site: InlineSite) -> str:
        """The name of what holds an inline object: its parent object, or its definition as a
        noun (postSalesInvoices -> SalesInvoice)."""
        if site.parent is not None:
            return site.parent.base
        return self._owner_of_definition(site)

    def _qualified(self, group: list[InlineSite], taken: set[str]) -> str:
        """A name for one schema among several that want the same name.

        A schema used under several owners takes the words their names share: the address of
        every sales document is SalesMainAddressCreate. Otherwise the owner's name qualifies it,
        then the grandparent's, until the name is free.
        """
        site = group[0]
        owners = sorted({self._owner(s) for s in group})
        if len(owners) > 1:
            common = _common_leading_words(owners)
            if common and join_overlapping(common, site.base) + site.suffix not in taken:
                return join_overlapping(common, site.base) + site.suffix
        name = site.base
        ancestor = site.parent
        while True:
            if ancestor is None:
                candidate = join_overlapping(self._owner_of_definition(site), name) + site.suffix
                if candidate in taken:
                    raise spec_error(site.pointer, "", f"two inline objects both want {candidate}")
                return candidate
            name = join_overlapping(ancestor.base, name)
            if name + site.suffix not in taken:
                return name + site.suffix
            ancestor = ancestor.parent

    def _owner_of_definition(self, site: InlineSite) -> str:
        """PostSalesInvoices -> SalesInvoice: the owner's name as a noun."""
        name = self.schemas.model_names[site.parent_definition]
        noun = request_verb_stripped(name)
        return name if noun is None else pascal(singular(snake(noun)))


def _common_leading_words(names: list[str]) -> str:
    """SalesInvoice, SalesQuote -> Sales; Contact, SalesInvoice -> "" (nothing shared)."""
    split = [re.findall(r"[A-Z][a-z0-9]*|[a-z0-9]+", name) for name in names]
    common: list[str] = []
    for words in zip(*split, strict=False):
        if len(set(words)) != 1:
            break
        common.append(words[0])
    return "".join(common)


def _depth(site: InlineSite) -> int:
    depth = 0
    while site.parent:
        depth, site = depth + 1, site.parent
    return depth
