"""Maintainers' own fixes to Sage's documents, in the OpenAPI Overlay 1.0 format.

An overlay is a JSON file in ``spec/overlays/`` (applied in file-name order)::

    {"overlay": "1.0.0", "info": {"title": "...", "version": "1"},
     "extends": "accounting.swagger.json",                  (optional: only documents so named)
     "actions": [{"target": "$.definitions.AnalysisType.properties.active_areas",
                  "update": {"items": {"type": "string"}}},
                 {"target": "$.paths['/x'].get.parameters[?@.name == 'y']", "remove": true}]}

Targets are RFC 9535 JSONPath (python-jsonpath). ``update`` merges an object into each matched
object (objects recursively, anything else replaced); ``remove`` deletes each matched node.
Overlays apply to the raw documents after reading and before conversion and validation; every
action is reported as a note, and an action that matches nothing is a warning.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jsonpath

from .errors import SpecError
from .report import Report


def overlay_files(directory: Path) -> list[Path]:
    """The overlays in ``directory`` in the order they apply (file name)."""
    return sorted(directory.glob("*.json")) if directory.is_dir() else []


def apply_overlays(documents: list[Any], overlays: Sequence[Path], report: Report) -> list[Any]:
    """New SpecDocuments with every overlay applied; the documents given are not changed."""
    from .loader import SpecDocument  # the loader imports this module

    data = {doc.name: copy.deepcopy(doc.data) for doc in documents}
    for path in overlays:
        overlay = _read_overlay(path)
        extends = overlay.get("extends")
        targets = [n for n in data if not extends or Path(n).name == Path(str(extends)).name]
        for index, action in enumerate(overlay["actions"]):
            where = f"/actions/{index}"
            matched = sum(_apply(action, data[name], str(path), where) for name in targets)
            text = f"{'remove' if action.get('remove') else 'update'} {action['target']}"
            if matched:
                report.note("overlay", str(path), where, f"{text}: {matched} node(s)")
            else:
                report.warn("overlay-unmatched", str(path), where, f"{text}: matched nothing")
    return [SpecDocument(doc.name, doc.sha256, data[doc.name]) for doc in documents]


def _read_overlay(path: Path) -> dict[str, Any]:
    try:
        overlay = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SpecError(str(path), "", f"cannot read overlay: {exc}") from None
    if not isinstance(overlay, dict) or not str(overlay.get("overlay", "")).startswith("1."):
        raise SpecError(str(path), "/overlay", "not an OpenAPI Overlay 1.x document")
    actions = overlay.get("actions")
    if not isinstance(actions, list) or not actions:
        raise SpecError(str(path), "/actions", "an overlay needs a list of actions")
    for index, action in enumerate(actions):
        if not isinstance(action, dict) or not isinstance(action.get("target"), str):
            raise SpecError(str(path), f"/actions/{index}", "an action needs a target")
        if ("update" in action) == bool(action.get("remove")):
            raise SpecError(str(path), f"/actions/{index}", "an action updates or removes")
    return overlay


def _apply(action: dict[str, Any], document: dict[str, Any], file: str, where: str) -> int:
    try:
        matches = list(jsonpath.finditer(action["target"], document))
    except jsonpath.JSONPathError as exc:
        raise SpecError(file, f"{where}/target", f"bad JSONPath: {exc}") from None
    # Remove from the last match backwards, so list indices of earlier matches stay right.
    for match in reversed(matches):
        if action.get("remove"):
            parent = match.parent.obj if match.parent else None
            if isinstance(parent, dict):
                parent.pop(match.parts[-1], None)
            elif isinstance(parent, list):
                parent.pop(int(match.parts[-1]))
        elif isinstance(match.obj, dict) and isinstance(action["update"], dict):
            _deep_update(match.obj, action["update"])
        else:
            raise SpecError(file, f"{where}/update", "update needs an object to merge into")
    return len(matches)


def _deep_update(target: dict[str, Any], update: dict[str, Any]) -> None:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _deep_update(target[key], value)
        else:
            target[key] = copy.deepcopy(value)
