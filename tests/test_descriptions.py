"""The Endpoint Availability / Access Control grammar: every section in the spec parses."""

from __future__ import annotations

from typing import Any

import pytest

from sage_codegen.descriptions import (
    ACCESS_HEADING,
    AVAILABILITY_HEADING,
    DescriptionError,
    parse_description,
)
from sage_codegen.ir import AccessRequirement, AreaAccess


def _operations(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        op
        for item in doc["paths"].values()
        for method, op in item.items()
        if method in ("get", "post", "put", "delete")
    ]


def test_every_section_of_the_real_spec_parses_with_nothing_left_over(
    raw_documents: dict[str, Any],
) -> None:
    doc = raw_documents["accounts.swagger.json"]
    texts = [op.get("description", "") for op in _operations(doc)]
    texts += [d.get("description", "") for d in doc["definitions"].values()]
    availability = access = 0
    for text in texts:
        parsed = parse_description(text)
        availability += parsed.availability is not None
        access += parsed.access is not None
        # What is not parsed is prose: no section heading, bullet or rule line may remain.
        assert AVAILABILITY_HEADING not in parsed.prose
        assert ACCESS_HEADING not in parsed.prose
        assert "Requires the authenticated user" not in parsed.prose
        assert not any(line.lstrip().startswith("*") for line in parsed.prose.splitlines())
    assert availability == sum(AVAILABILITY_HEADING in t for t in texts)
    assert access == sum(ACCESS_HEADING in t for t in texts)


def test_operation_section_counts_match_the_notes(api) -> None:  # type: ignore[no-untyped-def]
    core = [op for op in api.operations if "user-accounts" not in op.source]
    assert len(core) == 287
    assert sum(op.availability is not None for op in core) == 283
    assert sum(op.access is not None for op in core) == 221


def test_one_area_phrasing() -> None:
    text = (
        "### Access Control Restrictions\n\nRequires the authenticated user to have any of the "
        "following roles in the area `Sales`: Read Only, Full Access"
    )
    access = parse_description(text).access
    assert access == AccessRequirement((AreaAccess("Sales", ("Full Access", "Read Only")),))


def test_many_areas_phrasing_gives_each_area_the_same_roles() -> None:
    text = (
        "### Access Control Restrictions\n\nRequires the authenticated user to have any of the "
        "following roles in the areas `Settings`, `Sales`, and `Purchases`: Full Access, Read Only"
    )
    access = parse_description(text).access
    assert access is not None
    assert [a.area for a in access.areas] == ["Settings", "Sales", "Purchases"]
    assert {a.roles for a in access.areas} == {("Full Access", "Read Only")}


def test_listed_areas_phrasing_and_area_spellings() -> None:
    text = (
        "### Access Control Restrictions\n\n"
        "Requires the authenticated user to have any mentioned role in one of the listed areas:\n"
        "* Area: `Sales`: Restricted Access, Full Access\n"
        "* Area: `Statutory reporting`: Full Access"
    )
    access = parse_description(text).access
    assert access == AccessRequirement(
        (
            AreaAccess("Sales", ("Full Access", "Restricted Access")),
            AreaAccess("Statutory Reporting", ("Full Access",)),
        )
    )


def test_availability_flags_become_iso_codes_in_edition_order() -> None:
    text = (
        "Intro text.\n\n### Endpoint Availability\n\n"
        "* Accounting Start:  🇪🇸, 🇫🇷, \n* Accounting Plus: 🇺🇸, 🇬🇧, 🇩🇪\n*\n"
    )
    parsed = parse_description(text)
    assert parsed.prose == "Intro text."
    assert parsed.availability is not None
    assert [(e.edition, e.countries) for e in parsed.availability.editions] == [
        ("Accounting Plus", ("DE", "GB", "US")),
        ("Accounting Start", ("ES", "FR")),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "### Endpoint Availability\n\n* Accounting Plus: GB",
        "### Endpoint Availability\n\nAvailable everywhere",
        "### Access Control Restrictions\n\nRequires the authenticated user to be an admin",
        "### Access Control Restrictions\n\nRequires the authenticated user to have any of the "
        "following roles in the area `Sales`: Superuser",
        "### Access Control Restrictions\n\nRequires the authenticated user to have any of the "
        "following roles in the area `Sales`: Full Access\nAnd something more",
    ],
)
def test_an_unknown_phrasing_is_an_error_not_silently_dropped(text: str) -> None:
    with pytest.raises(DescriptionError):
        parse_description(text)
