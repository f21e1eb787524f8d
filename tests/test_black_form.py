"""Long annotations written in black's form by the generator, so black need not read the module
(from-scratch generation is mostly black's time): checked against black itself."""

from __future__ import annotations

import json
import keyword

import black
import pytest
from black.mode import TargetVersion
from hypothesis import given, settings
from hypothesis import strategies as st

from sage_codegen.black_form import annotated_name
from sage_codegen.formatting import needs_black

CASES = [
    ("note", "str"),
    (
        "delivery_address",
        "NotRequired[SalesDeliveryAddressCreate | SalesDeliveryAddressCreateParams | None]",
    ),
    (
        "analysis_type_categories",
        "NotRequired[Sequence[PurchaseQuickEntryAnalysisTypeCategoryCreate"
        " | PurchaseQuickEntryAnalysisTypeCategoryCreateParams] | None]",
    ),
    (
        "hosted_artefact_payment_setting",
        "HostedArtefactPaymentSettingCreate | HostedArtefactPaymentSettingCreateParams",
    ),
    (
        "credit_terms",
        'NotRequired[Literal["month_end_invoice", "date_from_invoice", "immediate_invoice",'
        ' "month_end_payment", "date_from_payment", "immediate_payment"] | None]',
    ),
    ("odd", 'Literal["a, b | c [d]", "' + "e" * 90 + '"]'),
]


@pytest.mark.parametrize(("name", "annotation"), CASES, ids=[c[0] for c in CASES])
def test_annotated_name_is_what_black_writes(name: str, annotation: str) -> None:
    source = "class A(TypedDict):\n" + annotated_name(name, annotation, 4) + "\n"
    mode = black.Mode(line_length=100, target_versions={TargetVersion.PY311})
    assert black.format_str(source, mode=mode) == source


def test_a_field_with_a_default_and_a_parameter_are_what_black_writes() -> None:
    literal = (
        'Literal["sales", "banking", "expenses", "other_payments", "other_receipts", "journals"]'
    )
    source = (
        "class A(RequestModel):\n"
        + annotated_name("visible_in", literal + " | None", 4, "None")
        + "\n\n\ndef f(\n    self,\n    *,\n"
        + annotated_name("visible_in", literal + ' | Literal["reporting"] | None', 4, "None", ",")
        + '\n) -> None:\n    """Doc."""\n'
    )
    mode = black.Mode(line_length=100, target_versions={TargetVersion.PY311})
    assert black.format_str(source, mode=mode) == source


# Whatever the annotation, the generator's form is black's, or the module goes through black.
LITERAL = st.lists(
    st.from_regex(r"[a-zA-Z_0-9 ,|\[\]()']{1,30}", fullmatch=True), min_size=1, max_size=8
).map(lambda values: "Literal[" + ", ".join(json.dumps(v) for v in values) + "]")
MODEL = st.from_regex(r"[A-Z][A-Za-z]{2,60}", fullmatch=True)
ANNOTATION = st.recursive(
    st.one_of(LITERAL, MODEL, st.just("str")),
    lambda inner: st.one_of(
        inner.map(lambda a: f"Sequence[{a}]"),
        st.tuples(inner, MODEL).map(lambda t: f"{t[0]} | {t[1]}Params"),
    ),
    max_leaves=4,
)


@settings(max_examples=150, deadline=None)
@given(
    name=st.from_regex(r"[a-z][a-z_]{0,40}", fullmatch=True).filter(
        lambda n: not keyword.iskeyword(n)  # such a key takes the TypedDict's functional form
    ),
    annotation=ANNOTATION,
    optional=st.booleans(),
    context=st.sampled_from(["typed_dict", "field", "parameter"]),
)
def test_any_annotation_is_black_s_form_or_goes_through_black(
    name: str, annotation: str, optional: bool, context: str
) -> None:
    if context == "typed_dict":
        declared = f"NotRequired[{annotation} | None]" if optional else annotation
        source = "class A(TypedDict):\n" + annotated_name(name, declared, 4) + "\n"
    elif context == "field":
        line = annotated_name(name, annotation + (" | None" if optional else ""), 4,
                              "None" if optional else None)  # fmt: skip
        source = "class A(RequestModel):\n" + line + "\n"
    else:
        line = annotated_name(name, annotation + (" | None" if optional else ""), 8,
                              "None" if optional else None, ",")  # fmt: skip
        source = f'class A:\n    def f(\n        self,\n        *,\n{line}\n    ) -> None:\n        """Doc."""\n'
    mode = black.Mode(line_length=100, target_versions={TargetVersion.PY311})
    assert needs_black(source) or black.format_str(source, mode=mode) == source
