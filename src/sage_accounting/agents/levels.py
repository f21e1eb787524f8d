"""Access levels, computed from each operation's parsed access requirement (never its name).

Sage's roles per area are Full Access, Restricted Access, Read Only. An agent's level in an area
is ``off``, ``read``, ``write`` or ``full``: ``read`` grants the operations a Read Only role may
do, ``write`` adds those Restricted Access may do, ``full`` adds those that need Full Access.
"""

from __future__ import annotations

from .._runtime import Operation

LEVELS = ("off", "read", "write", "full")
RANK = {level: rank for rank, level in enumerate(LEVELS)}
AREAS = (
    "Sales", "Purchases", "Bank", "Contacts", "Products & Services", "Settings", "Journals",
    "Reporting", "Statutory Reporting",
)  # fmt: skip
LEVEL_WORDS = {"off": "no access", "read": "read only", "write": "read and write", "full": "full"}


def required_level(roles: tuple[str, ...]) -> str:
    """The lowest agent level that one area's listed roles stand for."""
    if "Read Only" in roles:
        return "read"
    if "Restricted Access" in roles:
        return "write"
    return "full"


def requirement(op: Operation) -> dict[str, str]:
    """Area -> level needed there (any one area suffices); empty: the spec states none."""
    needed: dict[str, str] = {}
    for area, roles in op.access:
        level = required_level(roles)
        if area not in needed or RANK[level] < RANK[needed[area]]:
            needed[area] = level
    return needed


def doing(op: Operation) -> str:
    """What the operation does, as a gerund for reasons: "deleting", "releasing"."""
    words = {"list": "listing", "get": "reading", "create": "creating", "update": "updating",
             "delete": "deleting"}  # fmt: skip
    if op.kind in words:
        return words[op.kind]
    name = op.name.split("_")[0]
    stem = name[:-1] if name.endswith("e") else name
    return stem + "ing"


def grants(op: Operation, areas: dict[str, str]) -> tuple[bool, str]:
    """Whether the levels an agent holds per area allow ``op``, and why, in plain words."""
    needed = requirement(op)
    if not op.access_known:
        return False, "the spec's access text for it could not be read; allow it by name to use it"
    if not needed:
        return False, "the spec states no access requirement; allow it by name to use it"
    for area, level in needed.items():
        if RANK[areas.get(area, "off")] >= RANK[level]:
            return True, f"{area}: {LEVEL_WORDS[areas[area]]}"
    held = "; ".join(f"{area}: {LEVEL_WORDS[areas.get(area, 'off')]}" for area in needed)
    wants = " or ".join(f"{level} in {area}" for area, level in needed.items())
    if len(needed) == 1:
        wants = next(iter(needed.values()))
    return False, f"{held}; {doing(op)} needs {wants}"
