"""The generator skips black for template output that is already in black's form.

What decides: ``needs_black`` (a code line over the line length, or a string black would
requote) and the templates writing black's form, such as ``query_entry``
(``black_form.dict_entry``) for a long enum parameter. These tests hold the two against black
itself, for chosen cases and for any enum (hypothesis); ``make lint`` (black --check on the
committed package) and ``make check-generated`` prove it for the whole package.
"""

from __future__ import annotations

import black
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sage_codegen.black_form import wrapped
from sage_codegen.formatting import black_mode, needs_black
from sage_codegen.ir import Parameter, TypeKind, TypeRef
from sage_codegen.runtime_contract import query_entry


def formatted(source: str) -> str:
    return black.format_str(source, mode=black_mode())


def enum_parameter(name: str, enum: tuple[str, ...], required: bool) -> Parameter:
    return Parameter(
        name=name,
        py_name=name,
        location="query",
        type=TypeRef(TypeKind.STRING, enum=enum),
        required=required,
        description="",
    )


def entry_module(param: Parameter) -> str:
    return (
        'OPS = {\n    "op": Info(\n        query={\n'
        + query_entry(param)
        + "\n        },\n    ),\n}\n"
    )


ENUMS = [
    ("short", ("a", "b")),
    ("tax_type_id", ("CA_GST_HST", "CA_PST_BC", "CA_PST_MB", "CA_QST", "CA_PST_SK")),
    ("visible_in", ("sales", "banking", "expenses", "other_payments", "other_receipts",
                    "journals", "reporting")),  # fmt: skip
    ("one", ("only_value_here_and_it_is_long_enough_to_overflow_the_line",)),
]


@pytest.mark.parametrize("required", [False, True])
@pytest.mark.parametrize(("name", "enum"), ENUMS)
def test_query_entry_is_what_black_writes(name: str, enum: tuple[str, ...], required: bool) -> None:
    source = entry_module(enum_parameter(name, enum, required))
    assert formatted(source) == source
    assert not needs_black(source)


def test_a_long_code_line_goes_through_black() -> None:
    long_call = "x = f(" + ", ".join(f"argument_{i}" for i in range(12)) + ")\n"
    assert needs_black(long_call)
    assert formatted(long_call) != long_call


def test_long_lines_black_leaves_alone_are_not_sent() -> None:
    words = " ".join(["word"] * 30)
    source = (
        f'def f() -> None:\n    """{words}\n\n    {words}\n    """\n\n\n'
        f"X = [{', '.join(['1'] * 60)}]  # fmt: skip\n"
    )
    assert not needs_black(source)
    assert formatted(source) == source


# Whatever the values, the generator's form is black's, or the file goes through black: a layout
# that differs from black's on a short enough line would otherwise be committed unformatted.
ENUM_VALUE = st.text(
    alphabet=st.sampled_from("abcXYZ_09 ,|[]()'\"\\"), min_size=1, max_size=40
).filter(lambda v: v.strip() == v)


@settings(max_examples=150, deadline=None)
@given(
    name=st.from_regex(r"[a-z][a-z_]{0,40}", fullmatch=True),
    enum=st.lists(ENUM_VALUE, min_size=1, max_size=12, unique=True).map(tuple),
    required=st.booleans(),
)
def test_any_query_entry_is_black_s_form_or_goes_through_black(
    name: str, enum: tuple[str, ...], required: bool
) -> None:
    source = entry_module(enum_parameter(name, enum, required))
    assert needs_black(source) or formatted(source) == source


@settings(max_examples=100, deadline=None)
@given(
    attribute=st.from_regex(r"[a-z][a-z_]{0,70}", fullmatch=True),
    class_name=st.from_regex(r"Async[A-Z][A-Za-z]{0,70}", fullmatch=True),
)
def test_the_client_s_return_lines_are_black_s_form_or_go_through_black(
    attribute: str, class_name: str
) -> None:
    call = f'self._resource("{attribute}", {class_name})'
    source = (
        "class C:\n    @property\n    def p(self) -> None:\n"
        '        """Doc."""\n' + wrapped(call, 8, "return ") + "\n"
    )
    assert needs_black(source) or formatted(source) == source
