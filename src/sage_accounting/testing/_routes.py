"""Which operation a request is: the routes come from the SDK's own operations table.

Nothing here names a resource: a new operation in the spec is served as soon as the SDK is
regenerated. The same table gives each operation's access rules, so the sandbox answers 403
``MultiUserAccessDenied`` exactly where the spec's access text says a role is not enough.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .._runtime import Operation, all_operations


@dataclass(frozen=True)
class Route:
    operation_id: str
    info: Operation
    pattern: re.Pattern[str]


@dataclass(frozen=True)
class Match:
    route: Route
    key: str | None  # the {key} path parameter, if the path has one


@lru_cache(maxsize=1)
def routes() -> tuple[Route, ...]:
    """Every operation, literal paths first (so ``/x/{key}/file`` never reads as ``/x/{key}``)."""
    built = [
        Route(
            op_id,
            info,
            re.compile("^" + re.sub(r"\\\{[^/]+\\\}", "([^/]+)", re.escape(info.path)) + "$"),
        )
        for op_id, info in all_operations().items()
    ]
    return tuple(sorted(built, key=lambda r: (r.info.path.count("{"), r.info.path)))


@lru_cache(maxsize=1)
def _by_resource() -> dict[str, tuple[Route, ...]]:
    """Routes by their path's first segment: a request is matched against a handful, not 292."""
    grouped: dict[str, list[Route]] = {}
    for route in routes():
        grouped.setdefault(route.info.path.split("/")[1], []).append(route)
    return {segment: tuple(group) for segment, group in grouped.items()}


def match(method: str, path: str) -> Match | None | str:
    """The operation for ``method path``; the string "method" when only the method is wrong."""
    path_known = False
    for route in _by_resource().get(path.split("/")[1] if "/" in path else "", ()):
        found = route.pattern.match(path)
        if found is None:
            continue
        if route.info.method != method:
            path_known = True
            continue
        return Match(route, found.group(1) if found.groups() else None)
    return "method" if path_known else None


def denied(info: Operation, roles: dict[str, str]) -> str | None:
    """Why the user's roles do not grant ``info`` (Sage's wording), or None when they do.

    Any one allowed role in any one listed area grants it; an area the user has no role set for
    counts as Full Access, so a sandbox with no ``roles`` lets everything through.
    """
    if not info.access:
        return None
    if any(roles.get(area, "Full Access") in allowed for area, allowed in info.access):
        return None
    return (
        "You do not have the necessary access rights for this action. It needs any mentioned "
        f"role in one of the listed areas: {info.access_hint()}"
    )
