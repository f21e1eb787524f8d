"""Writing a SpecDiff: text grouped by level, Markdown for a pull request, JSON for tools, and a
draft CHANGELOG entry in SDK terms.

A new format is one function here, ``(diff, old, new) -> str``, and one entry in ``FORMATS`` at
the end (its name and a line of help): ``sage-codegen diff --format`` offers what ``FORMATS``
holds, and ``tests/test_diff.py`` runs every format over a real diff and an empty one. The
helpers below are what the formats share: the changes of each section (``sections``), repeats
grouped (``_grouped``, ``_template``), the summary line and the spec warnings of each side.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import NamedTuple

from .diff import LEVELS, Change, Level, SpecDiff
from .ir import Api

# In text and Markdown, the same warning or info in many places (Germany leaving 241 operations)
# is one line with a count; breaking changes are always listed one by one, and JSON lists every
# change.
COLLAPSE_OVER = 5


def _template(change: Change) -> str:
    """The change's text with its location taken out, to group repeats; the line still names its
    subject ("availability: no longer in DE (Accounting Plus)")."""
    text = change.text
    if text.startswith(f"{change.location}: "):
        subject = change.rule.split("-", 1)[0]
        text = f"{subject}: {text[len(change.location) + 2 :]}"
    for part in sorted({change.location, *change.location.split(" ", 1)}, key=len, reverse=True):
        if len(part) > 3:
            text = text.replace(part, "…")
    return re.sub(r"`client\.[a-z_]+\.[a-z_]+\(\)`", "`…`", text)


def _grouped(changes: list[Change]) -> list[tuple[Change, list[Change]]]:
    groups: dict[tuple[str, str], list[Change]] = defaultdict(list)
    for change in changes:
        groups[(change.rule, _template(change))].append(change)
    out: list[tuple[Change, list[Change]]] = []
    for members in groups.values():
        if len(members) > COLLAPSE_OVER and members[0].level != "breaking":
            out.append((members[0], members))
        else:
            out.extend((m, [m]) for m in members)
    return out


def _summary(diff: SpecDiff) -> str:
    return ", ".join(f"{diff.count(level)} {level}" for level in LEVELS)


def sections(diff: SpecDiff) -> Iterator[tuple[Level, str, list[Change]]]:
    """``(level, "API" or "SDK", changes)`` for each non-empty section, most severe first."""
    for level in LEVELS:
        for title, changes in (("API", diff.api), ("SDK", diff.sdk)):
            chosen = [c for c in changes if c.level == level]
            if chosen:
                yield level, title, chosen


def _spec_warnings(old: Api, new: Api) -> list[tuple[str, list[str]]]:
    """Each side's spec warnings: faults read one safe way, operations generation would refuse."""
    return [
        (side, [f"[{w.kind}] {w}" for w in api.warnings])
        for side, api in (("old", old), ("new", new))
        if api.warnings
    ]


def text(diff: SpecDiff, old: Api, new: Api) -> str:
    lines = [f"spec {old.spec_digest} -> {new.spec_digest}: {_summary(diff)}"]
    for side, warnings in _spec_warnings(old, new):
        lines.append(f"\nSPEC WARNINGS ({side} spec, {len(warnings)})")
        lines.extend(f"  {w}" for w in warnings)
    for level, title, chosen in sections(diff):
        lines.append(f"\n{level.upper()} ({title}, {len(chosen)})")
        for change, members in _grouped(chosen):
            if len(members) > 1:
                lines.append(f"  [{change.rule}] x{len(members)}: {_template(change)}")
                lines.append(f"      e.g. {', '.join(m.location for m in members[:3])}, ...")
            else:
                lines.append(f"  [{change.rule}] {change.text}")
                lines.append(f"      at {change.pointer}")
    if not diff.all():
        lines.append("no changes")
    return "\n".join(lines) + "\n"


def markdown(diff: SpecDiff, old: Api, new: Api) -> str:
    lines = [
        f"## Sage spec diff `{old.spec_digest}` → `{new.spec_digest}`",
        "",
        f"{_summary(diff)}.",
        "",
    ]
    for side, warnings in _spec_warnings(old, new):
        lines += [f"### Spec warnings: {side} spec ({len(warnings)})", ""]
        lines += [f"- `{w}`" for w in warnings]
        lines.append("")
    for level, title, chosen in sections(diff):
        lines += [
            f"### {level.capitalize()}: {title} ({len(chosen)})",
            "",
            "| rule | change | where |",
            "| --- | --- | --- |",
        ]
        for change, members in _grouped(chosen):
            what = _template(change) if len(members) > 1 else change.text
            where = (
                f"{len(members)} places, e.g. `{members[0].location}`"
                if len(members) > 1
                else f"`{change.pointer}`"
            )
            cell = what.replace("|", "\\|")
            lines.append(f"| `{change.rule}` | {cell} | {where} |")
        lines.append("")
    return "\n".join(lines)


def as_json(diff: SpecDiff, old: Api, new: Api) -> str:
    data = {
        "old": old.spec_digest,
        "new": new.spec_digest,
        "summary": {level: diff.count(level) for level in LEVELS},
        "spec_warnings": {side: warnings for side, warnings in _spec_warnings(old, new)},
        "changes": [
            {
                "view": view,
                "rule": c.rule,
                "level": c.level,
                "location": c.location,
                "pointer": c.pointer,
                "text": c.text,
            }
            for view, changes in (("api", diff.api), ("sdk", diff.sdk))
            for c in changes
        ],
    }
    return json.dumps(data, indent=2) + "\n"


def changelog(diff: SpecDiff, old: Api, new: Api) -> str:
    """A draft CHANGELOG entry, in what users of the SDK see.

    Every breaking change, API or SDK, stands under "Breaking" (what makes the command exit 1);
    an API change located at an operation or a model is said to change the SDK when the rendered
    output of that operation or model differs between the sides (``visibility``): its
    ``Operation`` facts, method and docstring, tool schema, or model class. Breaking API changes
    the SDK's output does not show are still listed there, marked so.
    """
    from .visibility import rendered, visible  # renders both sides: only this format needs it

    before, after = rendered(old), rendered(new)

    def shows(change: Change) -> bool:
        return bool(visible(change.location, before, after))

    sdk_pointers = {c.pointer for c in diff.sdk}
    api_breaking = [c for c in diff.api if c.level == "breaking" and c.pointer not in sdk_pointers]
    lines = [f"## Unreleased: Sage spec {old.spec_digest} -> {new.spec_digest}", ""]

    def section(title: str, entries: list[str]) -> None:
        if entries:
            lines.extend([f"### {title}", "", *(f"- {e}" for e in entries), ""])

    breaking = [_draft_line(c, [c]) for c in diff.sdk if c.level == "breaking"]
    breaking += [
        _draft_line(c, members) + ("" if all(map(shows, members)) else _NOT_SHOWN)
        for c, members in _grouped(api_breaking)
    ]
    section("Breaking", breaking)
    section(
        "Added",
        [_draft_line(c, [c]) for c in diff.sdk if c.level == "info" and c.rule.endswith("-added")],
    )
    rest = [c for c in diff.api if c.level != "breaking" and c.pointer not in sdk_pointers]
    changed = sorted((c for c in rest if shows(c)), key=lambda c: LEVELS.index(c.level))
    section("Changed", [_draft_line(c, members) for c, members in _grouped(changed)])
    section(
        "API changes with no change to the SDK's output",
        [_draft_line(c, members) for c, members in _grouped([c for c in rest if not shows(c)])],
    )
    if len(lines) == 2:
        lines.append("- No change visible to SDK users.")
    return "\n".join(lines).rstrip() + "\n"


_NOT_SHOWN = " (API only: the SDK's output is unchanged)"


def _draft_line(change: Change, members: list[Change]) -> str:
    if len(members) > 1:
        return f"{_template(change)} ({len(members)} places, e.g. {members[0].location})"
    return change.text[0].upper() + change.text[1:]


class Format(NamedTuple):
    write: Callable[[SpecDiff, Api, Api], str]
    help: str  # one line, shown by ``sage-codegen diff --help``


FORMATS: dict[str, Format] = {
    "text": Format(text, "grouped by level, each change with its pointer (the default)"),
    "markdown": Format(markdown, "tables by level, for a pull request"),
    "json": Format(as_json, "every change, for tools"),
    "changelog": Format(changelog, "a draft CHANGELOG entry in what SDK users see"),
}
