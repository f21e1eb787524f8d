"""Long annotations written in black's form by the generator, so black need not read the module
(from-scratch generation is mostly black's time): checked against black itself."""

from __future__ import annotations

import black
import pytest

from sage_codegen.spelling import annotated_name

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
    mode = black.Mode(line_length=100, target_versions={black.TargetVersion.PY311})
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
    mode = black.Mode(line_length=100, target_versions={black.TargetVersion.PY311})
    assert black.format_str(source, mode=mode) == source
