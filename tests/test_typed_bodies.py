"""Request bodies: a ``...Params`` TypedDict beside each request model, and unknown keys refused.

The runtime half drives the real client through a transport that fails if it is called: an
unknown key (in a dict, a model's keyword arguments, a nested body, a list item) is a
``RequestValidationError`` naming the key and the closest valid one, before any request. The
generator half renders a small IR and imports what it wrote.
"""

from __future__ import annotations

import datetime as dt
import importlib
import shutil
import sys
import typing
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ROOT

import sage_accounting.models as models
from sage_accounting import RequestValidationError, SageAccounting, SageArgumentError
from sage_accounting._runtime import RequestModel
from sage_accounting.models import (
    ContactCreate,
    ContactCreateParams,
    SalesInvoiceCreate,
    SalesInvoiceLineCreate,
    SalesInvoiceLineCreateParams,
)
from sage_codegen.ir import (
    Api,
    Field,
    Model,
    ModelRole,
    Operation,
    RequestBody,
    Resource,
    Response,
    TypeKind,
    TypeRef,
)
from sage_codegen.render import render_package
from sage_codegen.typed_dicts import params_name, typed_dict_source

# -- the runtime refuses unknown keys before any HTTP call ---------------------------------------


@pytest.fixture
def client() -> Iterator[SageAccounting]:
    def never(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"no request may be sent: {request.method} {request.url}")

    http = httpx.Client(transport=httpx.MockTransport(never))
    yield SageAccounting(access_token="test-token", http_client=http)
    http.close()


def refused(call: Any) -> RequestValidationError:
    with pytest.raises(RequestValidationError) as err:
        call()
    assert isinstance(err.value, SageArgumentError)
    return err.value


CONTACT: ContactCreateParams = {"name": "Acme", "contact_type_ids": ["CUSTOMER"]}
LINE: SalesInvoiceLineCreateParams = {
    "description": "A",
    "ledger_account_id": "L",
    "quantity": 1,
    "unit_price": "9.50",
}


def test_a_misspelt_dict_key_names_itself_and_the_closest_field(client: SageAccounting) -> None:
    error = refused(lambda: client.contacts.create(contact={**CONTACT, "credt_limit": "5"}))  # type: ignore[arg-type]
    assert str(error) == "contact: credt_limit: unknown field; did you mean 'credit_limit'?"
    assert error.argument == "contact"
    assert error.errors == [("credt_limit", "unknown field; did you mean 'credit_limit'?")]


def test_an_update_body_is_checked_too(client: SageAccounting) -> None:
    error = refused(lambda: client.contacts.update("c1", contact={"nmae": "Acme Ltd"}))  # type: ignore[arg-type]
    assert error.errors == [("nmae", "unknown field; did you mean 'name'?")]


def test_nested_bodies_and_list_items_name_their_path(client: SageAccounting) -> None:
    body = {
        "contact_id": "c1",
        "date": "2026-11-21",
        "invoice_lines": [LINE, {**LINE, "discont_amount": "1"}],
        "main_address": {"address_line_1": "1 High St", "postcode": "AB1"},
    }
    error = refused(lambda: client.sales_invoices.create(sales_invoice=body))  # type: ignore[arg-type]  # body's keys misspelt
    assert dict(error.errors) == {
        "invoice_lines.1.discont_amount": "unknown field; did you mean 'discount_amount'?",
        "main_address.postcode": "unknown field; did you mean 'postal_code'?",
    }


def test_nothing_close_says_only_unknown_field(client: SageAccounting) -> None:
    error = refused(lambda: client.contacts.create(contact={**CONTACT, "zzzz": 1}))  # type: ignore[arg-type]
    assert error.errors == [("zzzz", "unknown field")]


def test_unknown_keys_and_missing_ones_are_reported_together(client: SageAccounting) -> None:
    error = refused(lambda: client.contacts.create(contact={"name": "Acme", "notse": "x"}))  # type: ignore[arg-type]
    assert {field for field, _ in error.errors} == {"contact_type_ids", "notse"}


def test_model_keyword_arguments_are_refused_with_the_same_error() -> None:
    with pytest.raises(RequestValidationError) as err:
        ContactCreate(name="Acme", contact_type_ids=["C"], credt_limit=Decimal(5))  # type: ignore[call-arg]
    assert (
        str(err.value) == "ContactCreate: credt_limit: unknown field; did you mean 'credit_limit'?"
    )
    with pytest.raises(
        RequestValidationError, match=r"invoice_lines\.0\.descripton: .*'description'"
    ):
        SalesInvoiceCreate(
            contact_id="c1",
            date=dt.date(2026, 11, 21),
            invoice_lines=[{**LINE, "descripton": "A"}],
        )


def test_assigning_an_unknown_attribute_is_refused() -> None:
    contact = ContactCreate(name="Acme", contact_type_ids=["C"])
    with pytest.raises(RequestValidationError, match="did you mean 'credit_limit'"):
        contact.credt_limit = Decimal(5)


def test_python_and_wire_names_are_both_accepted() -> None:
    # IeCreate's wire "box_T1" is box_t1 in Python: both spellings validate, the wire one is sent.
    from sage_accounting.models import IeCreate

    assert IeCreate.model_validate({"box_T1": "1.5"}).to_body() == {"box_T1": Decimal("1.5")}
    assert IeCreate(box_t1=Decimal("1.5")).to_body() == {"box_T1": Decimal("1.5")}
    with pytest.raises(
        RequestValidationError, match="box_T1x: unknown field; did you mean 'box_T1'"
    ):
        IeCreate(box_T1x=1)  # type: ignore[call-arg]


def test_idempotency_id_is_accepted_on_post_bodies_and_sent() -> None:
    sent: list[bytes] = []

    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request.content)
        return httpx.Response(201, json={"id": "c1"})

    with httpx.Client(transport=httpx.MockTransport(record)) as http:
        client = SageAccounting(access_token="t", http_client=http)
        client.contacts.create(contact={**CONTACT, "idempotency_id": "a" * 32})
        client.contacts.create(contact=ContactCreate(**CONTACT, idempotency_id="b" * 32))  # type: ignore[misc]  # CONTACT may hold one: it doesn't
    assert b'"idempotency_id":"' + b"a" * 32 in sent[0]
    assert b'"idempotency_id":"' + b"b" * 32 in sent[1]


def test_idempotency_id_is_not_a_field_of_put_bodies(client: SageAccounting) -> None:
    error = refused(lambda: client.contacts.update("c1", contact={"idempotency_id": "a" * 32}))  # type: ignore[arg-type]
    assert error.errors[0][0] == "idempotency_id"


def test_response_models_keep_unknown_fields() -> None:
    contact = models.Contact.model_validate({"id": "c1", "brand_new_field": 1})
    assert contact.model_extra == {"brand_new_field": 1}


# -- the TypedDicts in the generated package ---------------------------------------------------


def test_every_request_model_has_its_typed_dict_exported_lazily() -> None:
    request_models = [
        name
        for name in models.__all__
        if not name.endswith("Params") and issubclass(getattr(models, name), RequestModel)
    ]
    assert len(request_models) == 233
    for name in request_models:
        assert typing.is_typeddict(getattr(models, params_name(name))), name
    # (Under ``from __future__ import annotations`` Python 3.11 cannot see NotRequired at run
    # time, so the annotations are what the type checker reads.)
    annotations = models.ContactCreateParams.__annotations__
    assert annotations["name"].__forward_arg__ == "str"
    assert annotations["credit_limit"].__forward_arg__ == "NotRequired[Decimal | int | str | None]"
    line_hints = typing.get_type_hints(models.SalesInvoiceCreateParams)
    assert "SalesInvoiceLineCreateParams" in str(line_hints["invoice_lines"])
    assert (  # the model and its TypedDict share a module
        models.SalesInvoiceLineCreateParams.__module__ == SalesInvoiceLineCreate.__module__
    )


def test_importing_the_package_does_not_import_model_modules() -> None:
    code = (
        "import sys, sage_accounting, sage_accounting.models;"
        "print(sum(m.startswith('sage_accounting.models.') for m in sys.modules))"
    )
    import subprocess

    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "0"


# -- the generator's emission ------------------------------------------------------------------


def _field(name: str, t: TypeRef, required: bool = False, py_name: str | None = None) -> Field:
    return Field(name, py_name or name, t, required, "", f"doc.json#/{name}")


def _model(name: str, fields: tuple[Field, ...], definition: str | None = None) -> Model:
    role: ModelRole = "response" if name == "Thing" else "request"
    pointer = f"doc.json#/definitions/{definition or name}"
    return Model(name, role, fields, "", None, definition, pointer)


def small_api() -> Api:
    line = _model(
        "ThingLineCreate",
        (
            _field("amount", TypeRef(TypeKind.DECIMAL), required=True),
            _field("tags", TypeRef(TypeKind.LIST, item=TypeRef(TypeKind.STRING))),
        ),
    )
    thing = _model(
        "ThingCreate",
        (
            _field("name", TypeRef(TypeKind.STRING), required=True),
            _field("kind", TypeRef(TypeKind.STRING, enum=("a", "b"))),
            _field("due", TypeRef(TypeKind.DATE)),
            _field("at", TypeRef(TypeKind.DATETIME)),
            _field(
                "lines",
                TypeRef(TypeKind.LIST, item=TypeRef(TypeKind.MODEL, model="ThingLineCreate")),
            ),
            _field("import", TypeRef(TypeKind.BOOLEAN), py_name="import_"),
        ),
    )
    body = TypeRef(TypeKind.MODEL, model="ThingCreate")
    wrapper = _model("PostThings", (_field("thing", body, required=True),), "postThings")
    read = _model("Thing", (_field("id", TypeRef(TypeKind.STRING)),), "Thing")
    create = Operation(
        operation_id="postThings",
        method="POST",
        path="/things",
        resource="things",
        py_name="create",
        kind="create",
        summary="Creates a Thing",
        description="",
        parameters=(),
        body=RequestBody("thing", "thing", "ThingCreate", "PostThings", True),
        response=Response(201, "Thing", False, False),
        access=None,
        availability=None,
        source="doc.json#/paths/~1things/post",
    )
    resource = Resource("things", "Things", ("Things",), (create,))
    return Api(
        title="Small",
        base_url="https://example.test/v3.1",
        resources=(resource,),
        models=(line, thing, wrapper, read),
        spec_digest="0" * 16,
    )


@pytest.fixture(scope="module")
def small_package(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The small IR rendered as package ``typed_small`` (with the real runtime), importable;
    the text of its model modules."""
    root = tmp_path_factory.mktemp("typed_small")
    package = root / "typed_small"
    for path, rendered in render_package(small_api()).items():
        target = package / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(rendered.text, encoding="utf-8")
    shutil.copytree(ROOT / "src" / "sage_accounting" / "_runtime", package / "_runtime")
    sys.path.insert(0, str(root))
    try:
        # Every model module, whichever the layout chose for each class.
        sources = [p.read_text(encoding="utf-8") for p in sorted((package / "models").glob("*.py"))]
        yield "\n".join(sources)
    finally:
        sys.path.remove(str(root))
        for name in [m for m in sys.modules if m.split(".")[0] == "typed_small"]:
            del sys.modules[name]


def test_the_typed_dict_sits_beside_its_model_with_caller_value_types(small_package: str) -> None:
    assert "class ThingLineCreateParams(TypedDict):" in small_package
    assert (
        '"""``ThingLineCreate`` as a dict: the same fields, by their wire names."""'
        in small_package
    )
    assert "    amount: Decimal | int | str\n" in small_package
    assert "    tags: NotRequired[Sequence[str] | None]\n" in small_package
    assert "    thing: ThingCreate | ThingCreateParams\n" in small_package
    # "import" is no attribute name: ThingCreate's TypedDict takes the functional form.
    assert 'ThingCreateParams = TypedDict(\n    "ThingCreateParams",' in small_package
    for entry in (
        '"name": str,',
        '"kind": NotRequired[Literal["a", "b"] | None],',
        '"due": NotRequired[dt.date | str | None],',
        '"at": NotRequired[dt.datetime | str | None],',
        '"lines": NotRequired[Sequence[ThingLineCreate | ThingLineCreateParams] | None],',
        '"import": NotRequired[bool | None],',
        '"idempotency_id": NotRequired[str | None],',  # a POST body
    ):
        assert f"        {entry}\n" in small_package, entry


def test_the_rendered_package_imports_and_exports_the_typed_dicts(small_package: str) -> None:
    package = importlib.import_module("typed_small.models")
    assert {"ThingCreateParams", "ThingLineCreateParams", "PostThingsParams"} <= set(
        package.__all__
    )
    params = package.ThingCreateParams
    assert typing.is_typeddict(params)
    assert params.__required_keys__ == {"name"}
    assert "import" in params.__optional_keys__ and "idempotency_id" in params.__optional_keys__
    assert params.__doc__ == "``ThingCreate`` as a dict: the same fields, by their wire names."
    assert package.ThingCreate.model_fields["idempotency_id"].is_required() is False
    resource = Path(sys.modules["typed_small"].__file__ or "").parent / "resources" / "things.py"
    assert "thing: ThingCreate | ThingCreateParams," in resource.read_text(encoding="utf-8")


def test_typed_dict_source_for_identifier_keys_uses_the_class_form() -> None:
    model = small_api().models[0]
    source = typed_dict_source(model)
    assert source.startswith("class ThingLineCreateParams(TypedDict):")
    assert "idempotency_id" not in source  # only POST bodies carry it
