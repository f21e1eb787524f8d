"""The intermediate representation: what the SDK is, independent of how it is written out.

Templates render it, ``inspect`` summarises it and ``diff`` compares two of them, so it holds only
facts (names, types, paths, access, availability), never template concerns: which module a class
goes to and what a resource class is called are decided on the emit side (``layout.py``). Everything is frozen
and ordered deterministically: the same spec always builds an equal IR.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from .report import SpecWarning
from .sage_rules import CHANGE_FEED_PARAMETERS, IDEMPOTENCY_HEADER

# -- access control and availability (parsed from operation descriptions) ---------------------------

ROLE_ORDER = ("Full Access", "Restricted Access", "Read Only")


@dataclass(frozen=True)
class AreaAccess:
    """Roles (any of them) that grant access in one area, e.g. Sales: Full Access, Read Only."""

    area: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class AccessRequirement:
    """The user needs one of the listed roles in at least one of the listed areas.

    ``known`` is False when Sage wrote an access section the grammar cannot read: the access is
    then "unknown" (policies deny it), never "none required"."""

    areas: tuple[AreaAccess, ...]
    known: bool = True

    def describe(self) -> str:
        if not self.known:
            return "unknown"
        return "; ".join(f"{a.area} ({', '.join(a.roles)})" for a in self.areas)


UNKNOWN_ACCESS = AccessRequirement((), known=False)


@dataclass(frozen=True)
class EditionAvailability:
    edition: str
    countries: tuple[str, ...]  # ISO 3166 alpha-2 codes, sorted


@dataclass(frozen=True)
class Availability:
    editions: tuple[EditionAvailability, ...]

    def describe(self) -> str:
        return "; ".join(f"{e.edition} ({', '.join(e.countries)})" for e in self.editions)


# -- types ------------------------------------------------------------------------------------------


class TypeKind(StrEnum):
    """What a field's or a parameter's value is: the one list of kinds.

    Every module that treats kinds differently dispatches with ``match`` and ends in
    ``assert_never``, so a kind added here makes ``make lint`` (mypy) name each place that must
    handle it: its annotations (``spelling``), what a dict body takes (``typed_dicts``), its JSON
    Schema (``tool_schemas``), its name in a diff (``diff``), its query encoding
    (``runtime_contract`` and the runtime's ``QueryKind``), what a module imports for it
    (``render``) and how a schema becomes one (``ir_schemas``)."""

    STRING = "string"
    INTEGER = "integer"
    DECIMAL = "decimal"  # money, quantities, rates: Decimal, never float
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    BINARY = "binary"
    ANY = "any"  # the spec gives no type
    DICT = "dict"  # an object with no declared properties
    LIST = "list"  # ``item`` is the type of its items
    MODEL = "model"  # ``model`` is the class name


# The kinds a path, query or header parameter may have (a model, object or file is refused when the
# IR is built; the runtime's ``QueryKind`` encodes each of these).
PARAMETER_KINDS = frozenset(
    {
        TypeKind.STRING,
        TypeKind.INTEGER,
        TypeKind.DECIMAL,
        TypeKind.BOOLEAN,
        TypeKind.DATE,
        TypeKind.DATETIME,
        TypeKind.LIST,
    }
)


@dataclass(frozen=True)
class TypeRef:
    """A field's or parameter's type. ``item`` for lists, ``model`` (class name) for models."""

    kind: TypeKind
    item: TypeRef | None = None
    model: str | None = None
    enum: tuple[str, ...] = ()
    format: str | None = None  # the spec's format, kept for the diff (double, int32, ...)

    def __post_init__(self) -> None:
        # A kind given as its value ("decimal") is the member; an unknown one fails here.
        object.__setattr__(self, "kind", TypeKind(self.kind))

    @property
    def referenced_model(self) -> str | None:
        """The model class this type names, a list's items included; None for anything else."""
        if self.kind is TypeKind.LIST and self.item is not None:
            return self.item.referenced_model
        return self.model if self.kind is TypeKind.MODEL else None


# -- models -----------------------------------------------------------------------------------------

ModelRole = Literal["response", "request"]


@dataclass(frozen=True)
class Field:
    name: str  # as on the wire
    py_name: str  # the Python attribute
    type: TypeRef
    required: bool
    description: str
    pointer: str  # file#pointer of the property in the source document


@dataclass(frozen=True)
class Model:
    """One pydantic class. ``definition`` names the spec definition it stands for, if any;
    ``declared_in``, for an inline object, the definitions whose schemas hold it."""

    name: str
    role: ModelRole
    fields: tuple[Field, ...]
    description: str
    availability: Availability | None
    definition: str | None
    pointer: str
    declared_in: tuple[str, ...] = ()


# -- operations and resources -------------------------------------------------------------------------

ParamLocation = Literal["path", "query", "header"]


@dataclass(frozen=True)
class Parameter:
    name: str  # as on the wire
    py_name: str
    location: ParamLocation
    type: TypeRef
    required: bool
    description: str
    default: str | int | bool | None = None
    pointer: str = ""  # file#pointer of the parameter in the source document


@dataclass(frozen=True)
class RequestBody:
    """A one-key wrapper body: ``{"contact": {...}}`` is key ``contact`` with model ContactCreate."""

    key: str
    py_name: str
    model: str  # the inner object's model
    wrapper_model: str  # the definition's model
    required: bool


OperationKind = Literal["list", "get", "create", "update", "delete", "action"]


@dataclass(frozen=True)
class Response:
    status: int
    model: str | None  # item model for lists, None for no body or bytes
    is_list: bool
    is_binary: bool
    # How the model was chosen when the spec gives no schema (see ir_responses); "" if it did.
    decision: str = ""


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str  # upper case
    path: str
    resource: str  # resource attribute name
    py_name: str  # method name on the resource
    kind: OperationKind
    summary: str
    description: str  # prose left after the parsed sections
    parameters: tuple[Parameter, ...]
    body: RequestBody | None
    response: Response
    access: AccessRequirement | None
    availability: Availability | None
    source: str  # file#pointer of the operation
    deprecated: bool = False

    @property
    def path_parameters(self) -> tuple[Parameter, ...]:
        return tuple(p for p in self.parameters if p.location == "path")

    @property
    def query_parameters(self) -> tuple[Parameter, ...]:
        return tuple(p for p in self.parameters if p.location == "query")

    @property
    def header_parameters(self) -> tuple[Parameter, ...]:
        """Headers the caller passes (the idempotency key is filled by the runtime)."""
        return tuple(
            p
            for p in self.parameters
            if p.location == "header" and p.name.lower() != IDEMPOTENCY_HEADER
        )

    @property
    def idempotency_header(self) -> str | None:
        return next(
            (
                p.name
                for p in self.parameters
                if p.location == "header" and p.name.lower() == IDEMPOTENCY_HEADER
            ),
            None,
        )

    @property
    def supports_changes(self) -> bool:
        """A list that can be polled for upserts and deletions (see sage_rules)."""
        names = {p.name for p in self.query_parameters}
        return self.kind == "list" and CHANGE_FEED_PARAMETERS <= names


@dataclass(frozen=True)
class Resource:
    name: str  # attribute on the client, e.g. sales_invoices
    title: str  # e.g. Sales Invoices
    tags: tuple[str, ...]
    operations: tuple[Operation, ...]


@dataclass(frozen=True)
class Api:
    title: str
    base_url: str
    resources: tuple[Resource, ...]
    models: tuple[Model, ...]
    spec_digest: str
    spec_files: tuple[tuple[str, str], ...] = field(default=())  # (file name, sha256)
    # Faults read one safe way while loading and building (never in strict mode).
    warnings: tuple[SpecWarning, ...] = field(default=(), compare=False)
    # Decisions recorded on the way (overlay actions applied, responses decided without schema).
    notes: tuple[SpecWarning, ...] = field(default=(), compare=False)

    @property
    def operations(self) -> tuple[Operation, ...]:
        return tuple(op for r in self.resources for op in r.operations)
