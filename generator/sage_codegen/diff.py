"""What a new Sage spec changes, from two IRs (built by the same loader as ``make generate``).

Two views of one comparison:

- API changes, in the spec's terms, at oasdiff's levels where oasdiff has the rule (its ids too):
  an endpoint removed is breaking, a request parameter removed a warning, a response property
  added info, ... plus Sage's own facts: access (an area or role removed is breaking for users
  holding it, one added is info) and availability (an edition or country removed is breaking).
- SDK changes, as a Python caller's code sees them: ``client.sales_invoices.list(): keyword
  status_id removed`` is breaking whatever oasdiff says of the parameter, because the call now
  raises. Access and availability change who may call, not the code: they are API changes only.

Operations are matched by method and path, parameters by location and name, response models by
class name, request bodies by walking the two bodies of one operation field by field (their
generated class names may change while the wire stays the same).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, assert_never

from .ir import (
    AccessRequirement,
    Api,
    Availability,
    Field,
    Model,
    Operation,
    Parameter,
    TypeKind,
    TypeRef,
)
from .spelling import param_annotation

Level = Literal["breaking", "warning", "info"]
LEVELS: tuple[Level, ...] = ("breaking", "warning", "info")


@dataclass(frozen=True)
class Change:
    rule: str
    level: Level
    location: str  # what changed, e.g. "GET /sales_invoices", "model SalesInvoice.total_amount"
    pointer: str  # file#pointer: the new document's, or the old one's for a removal
    text: str  # one line


@dataclass(frozen=True)
class SpecDiff:
    api: tuple[Change, ...]
    sdk: tuple[Change, ...]

    def all(self) -> tuple[Change, ...]:
        return self.api + self.sdk

    def count(self, level: Level) -> int:
        return sum(c.level == level for c in self.all())

    def at_or_above(self, level: Level | None) -> list[Change]:
        if level is None:
            return []
        allowed = LEVELS[: LEVELS.index(level) + 1]
        return [c for c in self.all() if c.level in allowed]


def describe_type(t: TypeRef) -> str:
    """A spec-level name for a type: string, string(date), number, integer, array of X, X."""
    match t.kind:
        case TypeKind.STRING | TypeKind.INTEGER | TypeKind.BOOLEAN | TypeKind.ANY:
            return t.kind.value
        case TypeKind.DECIMAL:
            return "number"
        case TypeKind.DATE:
            return "string(date)"
        case TypeKind.DATETIME:
            return "string(date-time)"
        case TypeKind.BINARY:
            return "string(binary)"
        case TypeKind.DICT:
            return "object"
        case TypeKind.LIST:
            assert t.item is not None
            return f"array of {describe_type(t.item)}"
        case TypeKind.MODEL:
            return str(t.model)
    assert_never(t.kind)


def _same_type(old: TypeRef, new: TypeRef) -> bool:
    return describe_type(old) == describe_type(new)


def _method(op: Operation) -> str:
    return f"client.{op.resource}.{op.py_name}()"


def _where(op: Operation) -> str:
    return f"{op.method} {op.path}"


def compare(old: Api, new: Api, country: str | None = None, edition: str | None = None) -> SpecDiff:
    """Compare two IRs. ``country`` (ISO code) and ``edition`` keep only what matters to users
    there: operations available to them (or of unstated availability), and availability
    changes that concern them."""
    differ = _Differ(old, new, country.upper() if country else None, edition)
    differ.run()
    # A request model shared by several bodies is walked once per body: one SDK line is enough.
    return SpecDiff(tuple(differ.api), tuple(dict.fromkeys(differ.sdk)))


class _Differ:
    def __init__(
        self, old: Api, new: Api, country: str | None = None, edition: str | None = None
    ) -> None:
        self.old, self.new = old, new
        self.country, self.edition = country, edition
        self.old_models = {m.name: m for m in old.models}
        self.new_models = {m.name: m for m in new.models}
        self.api: list[Change] = []
        self.sdk: list[Change] = []

    def api_change(self, rule: str, level: Level, location: str, pointer: str, text: str) -> None:
        self.api.append(Change(rule, level, location, pointer, text))

    def sdk_change(self, rule: str, level: Level, location: str, pointer: str, text: str) -> None:
        self.sdk.append(Change(rule, level, location, pointer, text))

    def run(self) -> None:
        self.resources()
        old_ops = {(o.method, o.path): o for o in self.old.operations}
        new_ops = {(o.method, o.path): o for o in self.new.operations}
        for key, op in old_ops.items():
            if key not in new_ops and self.concerns(op):
                self.operation_removed(op)
        for key, op in new_ops.items():
            if key not in old_ops:
                if self.concerns(op):
                    self.operation_added(op)
            elif self.concerns(old_ops[key]) or self.concerns(op):
                self.operation_changed(old_ops[key], op)
        self.models()

    def wants(self, country: str | None, edition: str | None) -> bool:
        """Whether a fact about ``country`` in ``edition`` (None: any) passes the filters."""
        return (self.country is None or country is None or country == self.country) and (
            self.edition is None or edition is None or edition == self.edition
        )

    @staticmethod
    def or_any(countries: set[str]) -> set[str | None]:
        """An edition listed without countries stands for any country."""
        return set(countries) if countries else {None}

    def concerns(self, op: Operation) -> bool:
        """An operation matters under the filters if its availability is unstated or names them."""
        if op.availability is None or (self.country is None and self.edition is None):
            return True
        return any(
            self.wants(country, e.edition)
            for e in op.availability.editions
            for country in e.countries
        )

    # -- resources and operations ---------------------------------------------------------------------

    def resources(self) -> None:
        old = {r.name: r for r in self.old.resources}
        new = {r.name: r for r in self.new.resources}
        for name in sorted(old.keys() - new.keys()):
            first = old[name].operations[0]
            self.sdk_change(
                "sdk-resource-removed",
                "breaking",
                f"client.{name}",
                first.source,
                f"resource `client.{name}` removed",
            )
        for name in sorted(new.keys() - old.keys()):
            first = new[name].operations[0]
            self.sdk_change(
                "sdk-resource-added",
                "info",
                f"client.{name}",
                first.source,
                f"resource `client.{name}` added",
            )

    def operation_removed(self, op: Operation) -> None:
        if op.deprecated:
            self.api_change(
                "api-removed-with-deprecation",
                "warning",
                _where(op),
                op.source,
                f"deprecated operation {_where(op)} removed",
            )
        else:
            self.api_change(
                "api-removed-without-deprecation",
                "breaking",
                _where(op),
                op.source,
                f"operation {_where(op)} removed",
            )
        self.sdk_change(
            "sdk-method-removed",
            "breaking",
            _method(op),
            op.source,
            f"method `{_method(op)}` removed",
        )

    def operation_added(self, op: Operation) -> None:
        self.api_change(
            "endpoint-added",
            "info",
            _where(op),
            op.source,
            f"operation {_where(op)} added ({op.summary})",
        )
        self.sdk_change(
            "sdk-method-added", "info", _method(op), op.source, f"method `{_method(op)}` added"
        )

    def operation_changed(self, old: Operation, new: Operation) -> None:
        where = _where(new)
        if _method(old) != _method(new):
            self.sdk_change(
                "sdk-method-renamed",
                "breaking",
                _method(old),
                new.source,
                f"method `{_method(old)}` is now `{_method(new)}`",
            )
        self.parameters(old, new)
        self.body(old, new)
        self.response(old, new)
        self.access(old.access, new.access, new)
        self.availability(old.availability, new.availability, where, f"{new.source}/description")
        if (old.summary, old.description) != (new.summary, new.description):
            self.api_change(
                "api-description-changed",
                "info",
                where,
                f"{new.source}/description",
                f"{where}: summary or description changed",
            )

    def parameters(self, old_op: Operation, new_op: Operation) -> None:
        where, method = _where(new_op), _method(new_op)
        old = {(p.location, p.name): p for p in old_op.parameters}
        new = {(p.location, p.name): p for p in new_op.parameters}
        removed = [p for k, p in old.items() if k not in new]
        added = [p for k, p in new.items() if k not in old]
        for gone, came in self.renames(removed, added):
            removed.remove(gone)
            added.remove(came)
            self.api_change(
                "request-parameter-renamed",
                "breaking",
                f"{where} {came.location} {came.name}",
                came.pointer,
                f"{where}: {gone.location} parameter `{gone.name}` renamed to `{came.name}`",
            )
            self.sdk_change(
                "sdk-keyword-renamed",
                "breaking",
                f"{method} {came.py_name}",
                came.pointer,
                f"`{method}`: keyword `{gone.py_name}` renamed to `{came.py_name}`",
            )
        for p in removed:
            self.api_change(
                "request-parameter-removed",
                "warning",
                f"{where} {p.location} {p.name}",
                p.pointer,
                f"{where}: {p.location} parameter `{p.name}` removed",
            )
            self.sdk_change(
                "sdk-keyword-removed",
                "breaking",
                f"{method} {p.py_name}",
                p.pointer,
                f"`{method}`: keyword `{p.py_name}` removed",
            )
        for p in added:
            required = p.required
            self.api_change(
                "new-required-request-parameter" if required else "new-optional-request-parameter",
                "breaking" if required else "info",
                f"{where} {p.location} {p.name}",
                p.pointer,
                f"{where}: {'required' if required else 'optional'} {p.location} parameter `{p.name}` added",
            )
            self.sdk_change(
                "sdk-keyword-added",
                "breaking" if required else "info",
                f"{method} {p.py_name}",
                p.pointer,
                f"`{method}`: {'required ' if required else ''}keyword `{p.py_name}` added",
            )
        for key in sorted(old.keys() & new.keys()):
            self.parameter_changed(old[key], new[key], new_op)

    @staticmethod
    def renames(
        removed: list[Parameter], added: list[Parameter]
    ) -> Iterator[tuple[Parameter, Parameter]]:
        """A parameter removed and one added with the same location, type and description (or
        the only such pair of that location and type): a rename."""
        for gone in list(removed):
            candidates = [
                p for p in added if p.location == gone.location and _same_type(p.type, gone.type)
            ]
            same_words = [
                p
                for p in candidates
                if p.description.replace(p.name, gone.name) == gone.description
            ]
            chosen = same_words or (
                candidates if len(candidates) == 1 and len(removed) == 1 else []
            )
            if chosen:
                added = [p for p in added if p is not chosen[0]]
                yield gone, chosen[0]

    def parameter_changed(self, old: Parameter, new: Parameter, op: Operation) -> None:
        where, method = _where(op), _method(op)
        location = f"{where} {new.location} {new.name}"
        if new.required and not old.required:
            self.api_change(
                "request-parameter-became-required",
                "breaking",
                location,
                new.pointer,
                f"{where}: {new.location} parameter `{new.name}` became required",
            )
            self.sdk_change(
                "sdk-keyword-became-required",
                "breaking",
                f"{method} {new.py_name}",
                new.pointer,
                f"`{method}`: keyword `{new.py_name}` is now required",
            )
        elif old.required and not new.required:
            self.api_change(
                "request-parameter-became-optional",
                "info",
                location,
                new.pointer,
                f"{where}: {new.location} parameter `{new.name}` became optional",
            )
        if not _same_type(old.type, new.type):
            self.api_change(
                "request-parameter-type-changed",
                "breaking",
                location,
                new.pointer,
                f"{where}: parameter `{new.name}` type {describe_type(old.type)} -> {describe_type(new.type)}",
            )
            if param_annotation(old) != param_annotation(new):
                self.sdk_change(
                    "sdk-keyword-type-changed",
                    "breaking",
                    f"{method} {new.py_name}",
                    new.pointer,
                    f"`{method}`: keyword `{new.py_name}` now takes `{param_annotation(new)}` (was `{param_annotation(old)}`)",
                )
        self.enum(
            old.type.enum,
            new.type.enum,
            "request-parameter",
            location,
            new.pointer,
            f"{where}: parameter `{new.name}`",
            removed_level="breaking",
            added_level="info",
        )
        if old.description != new.description:
            self.api_change(
                "request-parameter-description-changed",
                "info",
                location,
                new.pointer,
                f"{where}: description of parameter `{new.name}` changed",
            )

    def enum(
        self,
        old: tuple[str, ...],
        new: tuple[str, ...],
        rule: str,
        location: str,
        pointer: str,
        what: str,
        *,
        removed_level: Level,
        added_level: Level,
    ) -> None:
        if not old or not new:
            return
        for value in sorted(set(old) - set(new)):
            self.api_change(
                f"{rule}-enum-value-removed",
                removed_level,
                location,
                pointer,
                f"{what}: enum value `{value}` removed",
            )
        for value in sorted(set(new) - set(old)):
            self.api_change(
                f"{rule}-enum-value-added",
                added_level,
                location,
                pointer,
                f"{what}: enum value `{value}` added",
            )

    # -- request bodies -----------------------------------------------------------------------------

    def body(self, old_op: Operation, new_op: Operation) -> None:
        where, method = _where(new_op), _method(new_op)
        old, new = old_op.body, new_op.body
        if old is None and new is None:
            return
        if old is None or new is None or old.key != new.key:
            self.api_change(
                "request-body-changed",
                "breaking",
                where,
                new_op.source,
                f"{where}: request body changed",
            )
            self.sdk_change(
                "sdk-body-changed",
                "breaking",
                method,
                new_op.source,
                f"`{method}`: body argument changed",
            )
            return
        if old.model != new.model:
            self.sdk_change(
                "sdk-body-model-renamed",
                "breaking",
                method,
                new_op.source,
                f"`{method}`: `{new.py_name}` model `{old.model}` renamed to `{new.model}`",
            )
        self.request_model(
            self.old_models[old.model], self.new_models[new.model], f"{where} {new.key}", set()
        )

    def request_model(self, old: Model, new: Model, path: str, seen: set[tuple[str, str]]) -> None:
        if (old.name, new.name) in seen:
            return
        seen.add((old.name, new.name))
        old_fields = {f.name: f for f in old.fields}
        new_fields = {f.name: f for f in new.fields}
        for name, f in old_fields.items():
            if name not in new_fields:
                self.api_change(
                    "request-property-removed",
                    "warning",
                    f"{path}.{name}",
                    f.pointer,
                    f"{path}: request property `{name}` removed",
                )
                self.sdk_field_removed(old.name, f)
        for name, f in new_fields.items():
            if name not in old_fields:
                level: Level = "breaking" if f.required else "info"
                rule = (
                    "new-required-request-property"
                    if f.required
                    else "new-optional-request-property"
                )
                self.api_change(
                    rule,
                    level,
                    f"{path}.{name}",
                    f.pointer,
                    f"{path}: {'required' if f.required else 'optional'} request property `{name}` added",
                )
                self.sdk_field_added(new.name, f, level)
        for name in sorted(old_fields.keys() & new_fields.keys()):
            o, n = old_fields[name], new_fields[name]
            location = f"{path}.{name}"
            if n.required and not o.required:
                self.api_change(
                    "request-property-became-required",
                    "breaking",
                    location,
                    n.pointer,
                    f"{path}: request property `{name}` became required",
                )
                self.sdk_change(
                    "sdk-field-became-required",
                    "breaking",
                    f"model {new.name}.{n.py_name}",
                    n.pointer,
                    f"model `{new.name}`: field `{n.py_name}` is now required",
                )
            if not self.field_types_match(o, n):
                self.api_change(
                    "request-property-type-changed",
                    "breaking",
                    location,
                    n.pointer,
                    f"{path}: request property `{name}` type {describe_type(o.type)} -> {describe_type(n.type)}",
                )
                self.sdk_field_type_changed(new.name, o, n)
            self.enum(
                o.type.enum,
                n.type.enum,
                "request-property",
                location,
                n.pointer,
                f"{path}: request property `{name}`",
                removed_level="breaking",
                added_level="info",
            )
            old_inner, new_inner = o.type.referenced_model, n.type.referenced_model
            if old_inner and new_inner:
                self.request_model(
                    self.old_models[old_inner], self.new_models[new_inner], location, seen
                )

    def sdk_field_added(self, model: str, field: Field, level: Level) -> None:
        where = f"model {model}.{field.py_name}"
        required = "required " if field.required else ""
        text = f"model `{model}`: {required}field `{field.py_name}` added"
        self.sdk_change("sdk-field-added", level, where, field.pointer, text)

    def sdk_field_removed(self, model: str, field: Field) -> None:
        where = f"model {model}.{field.py_name}"
        text = f"model `{model}`: field `{field.py_name}` removed"
        self.sdk_change("sdk-field-removed", "breaking", where, field.pointer, text)

    def sdk_field_type_changed(self, model: str, old: Field, new: Field) -> None:
        was, now = describe_type(old.type), describe_type(new.type)
        where = f"model {model}.{new.py_name}"
        text = f"model `{model}`: field `{new.py_name}` is now {now} (was {was})"
        self.sdk_change("sdk-field-type-changed", "breaking", where, new.pointer, text)

    def field_types_match(self, old: Field, new: Field) -> bool:
        """Same wire type; two inline request objects count as the same type whatever their
        generated names (their fields are compared one by one)."""
        if old.type.referenced_model and new.type.referenced_model:
            return (old.type.kind is TypeKind.LIST) == (new.type.kind is TypeKind.LIST)
        return _same_type(old.type, new.type)

    # -- responses ----------------------------------------------------------------------------------

    def response(self, old_op: Operation, new_op: Operation) -> None:
        where, method = _where(new_op), _method(new_op)
        old, new = old_op.response, new_op.response
        if old.status != new.status:
            self.api_change(
                "response-success-status-changed",
                "breaking",
                where,
                new_op.source,
                f"{where}: success status {old.status} -> {new.status}",
            )
        if old.is_list != new.is_list:
            shape = "a list" if new.is_list else "a single record"
            self.api_change(
                "response-list-changed",
                "breaking",
                where,
                new_op.source,
                f"{where}: now returns {shape}",
            )
            self.sdk_change(
                "sdk-return-changed",
                "breaking",
                method,
                new_op.source,
                f"`{method}` now returns {'a pager' if new.is_list else 'one model'}",
            )
        elif (old.model, old.is_binary) != (new.model, new.is_binary):
            self.api_change(
                "response-body-type-changed",
                "breaking",
                where,
                new_op.source,
                f"{where}: response body {old.model or ('bytes' if old.is_binary else 'none')} -> "
                f"{new.model or ('bytes' if new.is_binary else 'none')}",
            )
            self.sdk_change(
                "sdk-return-changed",
                "breaking",
                method,
                new_op.source,
                f"`{method}` now returns `{new.model or ('bytes' if new.is_binary else 'None')}`",
            )

    def models(self) -> None:
        """Response models by class name; request models also as classes callers may import."""
        for name, model in self.old_models.items():
            if name not in self.new_models:
                self.sdk_change(
                    "sdk-model-removed",
                    "breaking",
                    f"model {name}",
                    model.pointer,
                    f"model `{name}` removed",
                )
        for name, model in self.new_models.items():
            if name not in self.old_models:
                self.sdk_change(
                    "sdk-model-added",
                    "info",
                    f"model {name}",
                    model.pointer,
                    f"model `{name}` added",
                )
        for name in sorted(self.old_models.keys() & self.new_models.keys()):
            old, new = self.old_models[name], self.new_models[name]
            if old.role == new.role == "response":
                self.response_model(old, new)
            self.availability(old.availability, new.availability, f"model {name}", new.pointer)

    def response_model(self, old: Model, new: Model) -> None:
        old_fields = {f.name: f for f in old.fields}
        new_fields = {f.name: f for f in new.fields}
        for fname, f in old_fields.items():
            if fname not in new_fields:
                self.api_change(
                    "response-property-removed",
                    "warning",
                    f"model {old.name}.{fname}",
                    f.pointer,
                    f"{old.name}: response property `{fname}` removed",
                )
                self.sdk_field_removed(old.name, f)
        for fname, f in new_fields.items():
            if fname not in old_fields:
                self.api_change(
                    "response-property-added",
                    "info",
                    f"model {new.name}.{fname}",
                    f.pointer,
                    f"{new.name}: response property `{fname}` added",
                )
                self.sdk_field_added(new.name, f, "info")
        for fname in sorted(old_fields.keys() & new_fields.keys()):
            o, n = old_fields[fname], new_fields[fname]
            location = f"model {new.name}.{fname}"
            if not _same_type(o.type, n.type):
                self.api_change(
                    "response-property-type-changed",
                    "breaking",
                    location,
                    n.pointer,
                    f"{new.name}: response property `{fname}` type {describe_type(o.type)} -> {describe_type(n.type)}",
                )
                self.sdk_field_type_changed(new.name, o, n)
            self.enum(
                o.type.enum,
                n.type.enum,
                "response-property",
                location,
                n.pointer,
                f"{new.name}: response property `{fname}`",
                removed_level="info",
                added_level="warning",
            )
            if o.description != n.description:
                self.api_change(
                    "response-property-description-changed",
                    "info",
                    location,
                    n.pointer,
                    f"{new.name}: description of `{fname}` changed",
                )

    # -- access and availability ----------------------------------------------------------------------

    def access(
        self, old: AccessRequirement | None, new: AccessRequirement | None, op: Operation
    ) -> None:
        """Access: one role in one listed area grants it, so a listed area or role taken away
        locks out users holding only that (breaking); one added lets more in (info)."""
        where, pointer = _where(op), f"{op.source}/description"

        def note(rule: str, level: Level, text: str) -> None:
            self.api_change(rule, level, where, pointer, f"{where}: {text}")

        if old == new:
            return
        if new is not None and not new.known:
            note("access-unknown", "warning", "access now unknown (Sage's text could not be read)")
            return
        if old is not None and not old.known:
            note("access-known", "info", f"access now stated: {new.describe() if new else 'none'}")
            return
        if old is None or new is None:
            if new is not None:
                note("access-restriction-added", "warning", f"access now needs {new.describe()}")
            else:
                note("access-restriction-removed", "info", "access no longer restricted")
            return
        old_roles = {a.area: set(a.roles) for a in old.areas}
        new_roles = {a.area: set(a.roles) for a in new.areas}
        for area in sorted(old_roles.keys() - new_roles.keys()):
            note("access-area-removed", "breaking", f"area `{area}` no longer grants access")
        for area in sorted(new_roles.keys() - old_roles.keys()):
            note("access-area-added", "info", f"area `{area}` now grants access")
        for area in sorted(old_roles.keys() & new_roles.keys()):
            for role in sorted(old_roles[area] - new_roles[area]):
                note("access-role-removed", "breaking", f"{role} in {area} no longer grants access")
            for role in sorted(new_roles[area] - old_roles[area]):
                note("access-role-added", "info", f"{role} in {area} now grants access")

    def availability(
        self, old: Availability | None, new: Availability | None, where: str, pointer: str
    ) -> None:
        """Availability (of an operation, or of a model: ``where`` says which): an edition or a
        country taken away is breaking for those in it."""

        def note(rule: str, level: Level, text: str) -> None:
            self.api_change(rule, level, where, pointer, f"{where}: {text}")

        if old == new:
            return
        if old is None:
            note("availability-stated", "info", f"availability now stated: {new.describe()}")  # type: ignore[union-attr]
            return
        old_map = {e.edition: set(e.countries) for e in old.editions}
        new_map = {e.edition: set(e.countries) for e in (new.editions if new else ())}
        for edition in sorted(old_map.keys() - new_map.keys()):
            if any(self.wants(c, edition) for c in self.or_any(old_map[edition])):
                note(
                    "availability-edition-removed", "breaking", f"no longer available in {edition}"
                )
        for edition in sorted(new_map.keys() - old_map.keys()):
            if any(self.wants(c, edition) for c in self.or_any(new_map[edition])):
                note("availability-edition-added", "info", f"now available in {edition}")
        lost: dict[str, list[str]] = {}
        for edition in sorted(old_map.keys() & new_map.keys()):
            for country in sorted(old_map[edition] - new_map[edition]):
                if self.wants(country, edition):
                    lost.setdefault(country, []).append(edition)
            for country in sorted(new_map[edition] - old_map[edition]):
                if self.wants(country, edition):
                    note("availability-country-added", "info", f"now in {country} ({edition})")
        for country, editions in sorted(lost.items()):
            where_lost = ", ".join(editions)
            note(
                "availability-country-removed", "breaking", f"no longer in {country} ({where_lost})"
            )
