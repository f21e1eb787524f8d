"""The SDK's one inflector (``sage_accounting._runtime._inflect``): what the audit log and the
sandbox say of Sage's resources, and its agreement with the generator's own copy."""

from __future__ import annotations

import pytest

from sage_accounting._runtime import all_operations, plural, singular
from sage_accounting.agents import words
from sage_codegen import naming

RESOURCES = sorted({op.resource for op in all_operations().values()})


def test_the_sdk_and_the_generator_agree_on_every_resource() -> None:
    assert len(RESOURCES) > 50
    disagree = {r: (singular(r), naming.singular(r)) for r in RESOURCES}
    assert {r: pair for r, pair in disagree.items() if pair[0] != pair[1]} == {}


def test_plural_undoes_singular_for_every_plural_resource() -> None:
    inflected = [r for r in RESOURCES if singular(r) != r]
    assert len(inflected) > 50
    assert {r: plural(singular(r)) for r in inflected if plural(singular(r)) != r} == {}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("contact", "contacts"),
        ("status", "statuses"),
        ("tax_rate", "tax_rates"),
        ("country", "countries"),
        ("attachment_context_type", "attachment_context_types"),
        ("contact_person", "contact_persons"),  # Sage's resource, not "people"
        ("address", "addresses"),
    ],
)
def test_plural(name: str, expected: str) -> None:
    assert plural(name) == expected


def test_the_audit_log_names_one_artefact_status() -> None:
    # The agents' own inflector made "artefact statuse" of it (ends in "s": drop it).
    get = next(
        op
        for op in all_operations().values()
        if op.resource == "artefact_statuses" and op.kind == "get"
    )
    assert words.action(get, done=True) == "read artefact status"
    listing = next(
        op
        for op in all_operations().values()
        if op.resource == "artefact_statuses" and op.kind == "list"
    )
    assert words.action(listing, done=True) == "listed artefact statuses"
