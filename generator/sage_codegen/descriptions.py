"""Parse the structured sections Sage writes into operation and definition descriptions.

Two sections carry facts, in a small fixed grammar (see ``../shared/docs/sage-api-notes.md``)::

    ### Endpoint Availability

    * Accounting Plus: 🇨🇦, 🇬🇧
    * Accounting Standard: 🇬🇧, 🇮🇪

    ### Access Control Restrictions

    Requires the authenticated user to have any of the following roles in the area `Sales`: Full Access
    Requires the authenticated user to have any of the following roles in the areas `A`, `B`, and `C`: Full Access
    Requires the authenticated user to have any mentioned role in one of the listed areas:
    * Area: `Sales`: Full Access, Read Only
    Requires the authenticated user to have any of the following roles in the areas:
    * Area: `Sales`: Full Access, Read Only            (the 2025 phrasing; "* `Sales`: ..." too)

A line inside those sections that matches none of these is an error: a new phrasing must be taught
here, never silently dropped. ``lenient=True`` (after the error was reported as a warning) reads an
unknown access section as access "unknown" and an unknown availability section as unstated.
Other text is kept as prose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .ir import (
    ROLE_ORDER,
    UNKNOWN_ACCESS,
    AccessRequirement,
    AreaAccess,
    Availability,
    EditionAvailability,
)
from .report import Report

AVAILABILITY_HEADING = "### Endpoint Availability"
ACCESS_HEADING = "### Access Control Restrictions"
EDITION_ORDER = ("Accounting Plus", "Accounting Standard", "Accounting Start")
# Sage spells one area two ways; the canonical spelling is the first.
AREA_SPELLINGS = {"Statutory reporting": "Statutory Reporting"}

_EDITION_LINE = re.compile(r"^\* (?P<edition>[A-Za-z ]+):\s+(?P<flags>.+)$")
_FLAG = re.compile(r"^[\U0001F1E6-\U0001F1FF]{2}$")
_REQUIRES = "Requires the authenticated user to have "
_ONE_AREA = re.compile(r"^any of the following roles in the area `(?P<area>[^`]+)`: (?P<roles>.+)$")
_MANY_AREAS = re.compile(
    r"^any of the following roles in the areas (?P<areas>.+): (?P<roles>[^`]+)$"
)
_LISTED = (
    "any mentioned role in one of the listed areas:",
    "any of the following roles in the areas:",
)
_AREA_LINE = re.compile(r"^\* (?:Area: )?`(?P<area>[^`]+)`: (?P<roles>.+)$")


class DescriptionError(ValueError):
    """A line in a structured section that the grammar does not know."""


@dataclass(frozen=True)
class ParsedDescription:
    prose: str
    availability: Availability | None
    access: AccessRequirement | None


def parse_description(text: str, *, lenient: bool = False) -> ParsedDescription:
    prose: list[str] = []
    availability: Availability | None = None
    access: AccessRequirement | None = None
    section: list[str] | None = None
    sections: list[tuple[str, list[str]]] = []
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped in (AVAILABILITY_HEADING, ACCESS_HEADING):
            section = []
            sections.append((stripped, section))
        elif stripped.startswith("#"):
            section = None
            prose.append(line)
        elif section is not None:
            if stripped:
                section.append(stripped)
        else:
            prose.append(line)
    for heading, lines in sections:
        if heading == AVAILABILITY_HEADING:
            if availability is not None and not lenient:
                raise DescriptionError("two Endpoint Availability sections")
            try:
                availability = parse_availability(lines)
            except DescriptionError:
                if not lenient:
                    raise
                availability = None
        else:
            if access is not None and not lenient:
                raise DescriptionError("two Access Control Restrictions sections")
            try:
                access = parse_access(lines)
            except DescriptionError:
                if not lenient:
                    raise
                access = UNKNOWN_ACCESS
    return ParsedDescription("\n".join(prose).strip(), availability, access)


def read_description(text: str, source: str, report: Report) -> ParsedDescription:
    """A description as the IR records it: a section the grammar cannot read is a warning (at
    ``source``/description) and its facts are unknown, not absent."""
    try:
        return parse_description(text)
    except DescriptionError as exc:
        file, _, where = source.partition("#")
        report.warn("description-grammar", file, where + "/description", str(exc))
    try:
        return parse_description(text, lenient=True)
    except DescriptionError:  # pragma: no cover - lenient parsing does not raise
        return ParsedDescription(text.strip(), None, UNKNOWN_ACCESS)


def flag_to_iso(flag: str) -> str:
    """🇬🇧 (two regional indicator symbols) -> "GB"."""
    return "".join(chr(ord("A") + ord(ch) - 0x1F1E6) for ch in flag)


def parse_availability(lines: list[str]) -> Availability:
    editions: dict[str, tuple[str, ...]] = {}
    for line in lines:
        if line == "*":  # an empty bullet (seen in definition descriptions): nothing listed
            continue
        match = _EDITION_LINE.match(line)
        if not match:
            raise DescriptionError(f"unknown Endpoint Availability line: {line!r}")
        countries = []
        for flag in match["flags"].split(","):
            flag = flag.strip()
            if not flag:  # "🇬🇧, " with a trailing comma
                continue
            if not _FLAG.match(flag):
                raise DescriptionError(f"not a country flag: {flag!r} in {line!r}")
            countries.append(flag_to_iso(flag))
        edition = match["edition"].strip()
        if edition in editions:
            raise DescriptionError(f"edition listed twice: {edition!r}")
        editions[edition] = tuple(sorted(set(countries)))
    if not editions:
        raise DescriptionError("empty Endpoint Availability section")
    order = {name: i for i, name in enumerate(EDITION_ORDER)}
    names = sorted(editions, key=lambda e: (order.get(e, len(order)), e))
    return Availability(tuple(EditionAvailability(e, editions[e]) for e in names))


def _roles(text: str, line: str) -> tuple[str, ...]:
    roles = {r.strip() for r in text.split(",")}
    unknown = roles - set(ROLE_ORDER)
    if unknown:
        raise DescriptionError(f"unknown role {sorted(unknown)[0]!r} in {line!r}")
    return tuple(r for r in ROLE_ORDER if r in roles)


def _area(name: str) -> str:
    return AREA_SPELLINGS.get(name, name)


def parse_access(lines: list[str]) -> AccessRequirement:
    if not lines or not lines[0].startswith(_REQUIRES):
        raise DescriptionError(f"unknown Access Control Restrictions text: {lines[:1]!r}")
    head, rest = lines[0][len(_REQUIRES) :], lines[1:]
    areas: list[AreaAccess] = []
    if match := _ONE_AREA.match(head):
        areas.append(AreaAccess(_area(match["area"]), _roles(match["roles"], head)))
    elif match := _MANY_AREAS.match(head):
        names = re.findall(r"`([^`]+)`", match["areas"])
        leftover = re.sub(r"`[^`]+`|,|\band\b|\s", "", match["areas"])
        if len(names) < 2 or leftover:
            raise DescriptionError(f"unknown area list in {lines[0]!r}")
        roles = _roles(match["roles"], head)
        areas.extend(AreaAccess(_area(name), roles) for name in names)
    elif head in _LISTED:
        for line in rest:
            area_match = _AREA_LINE.match(line)
            if not area_match:
                raise DescriptionError(f"unknown area line: {line!r}")
            areas.append(AreaAccess(_area(area_match["area"]), _roles(area_match["roles"], line)))
        rest = []
        if not areas:
            raise DescriptionError("no areas listed")
    else:
        raise DescriptionError(f"unknown Access Control Restrictions text: {lines[0]!r}")
    if rest:
        raise DescriptionError(f"unexpected line after the access rule: {rest[0]!r}")
    return AccessRequirement(tuple(areas))
