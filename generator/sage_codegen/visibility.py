"""What SDK users see of each operation and model: its rendered output, for the changelog.

Whether an API change is visible to users of the SDK is decided by rendering both sides, not
guessed from the change's rule: an operation's facts are its ``Operation`` constant (access,
availability, query encoding), its sync method (signature and docstring) and its agents' tool
schema; a model's, its class. Two sides differ for users where these texts differ.

The texts are the templates' output before black: black is a deterministic function of its
input, so equal sources format equally, and a change black would hide (whitespace) is no change
of what users read. Skipping black keeps a diff at the cost of two renders (~0.3 s each).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from .ir import Api
from .layout import laid_out, model_modules
from .render import render_sources
from .runtime_contract import operation_constant
from .tool_schemas import operation_entry

_HTTP = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")


@dataclass(frozen=True)
class Rendered:
    """Per operation ("GET /contacts") and per model class name, the text users see."""

    operations: dict[str, str]
    models: dict[str, str]


def rendered(api: Api) -> Rendered:
    sources = render_sources(api)
    models = {m.name: m for m in api.models}
    operations: dict[str, str] = {}
    for resource in api.resources:
        text = sources.get(f"resources/{resource.name}.py", "")
        for op in resource.operations:
            facts = [
                _block(text, rf"^{operation_constant(op.operation_id)} = Operation\(", r"^\)$"),
                _block(text, rf"^    def {op.py_name}\(", r"^    (?:async )?def |^class "),
                json.dumps(operation_entry(op, models), sort_keys=True, ensure_ascii=False),
            ]
            operations[f"{op.method} {op.path}"] = "\n".join(facts)
    classes: dict[str, str] = {}
    for module in model_modules(laid_out(api)):
        text = sources.get(f"models/{module.name}.py", "")
        for model in module.models:
            classes[model.name] = _block(text, rf"^class {model.name}\(", r"^class |^[A-Za-z_]")
    return Rendered(operations, classes)


def _block(text: str, start: str, end: str) -> str:
    """From the line matching ``start`` up to (excluding) the next line matching ``end`` (the
    closing line itself when ``end`` is a lone ``)``)."""
    found = re.search(start, text, re.M)
    if found is None:
        return ""
    stop = re.compile(end, re.M).search(text, found.end())
    if stop is None:
        return text[found.start() :]
    closing = stop.group(0) == ")"
    return text[found.start() : stop.end() if closing else stop.start()]


def subject(location: str) -> tuple[str, str] | None:
    """What a change's location is about: ("operation", "GET /contacts") from "GET /contacts
    query page", ("model", "Contact") from "model Contact.notes"; None for anything else."""
    words = location.split(" ")
    if len(words) >= 2 and words[0] in _HTTP:
        return "operation", f"{words[0]} {words[1]}"
    if len(words) >= 2 and words[0] == "model":
        return "model", words[1].split(".", 1)[0]
    return None


def visible(location: str, old: Rendered, new: Rendered) -> bool | None:
    """Whether what users see of the change's subject differs between the sides (appearing or
    disappearing counts); None when the location names no operation or model."""
    found = subject(location)
    if found is None:
        return None
    kind, name = found
    table_old = old.operations if kind == "operation" else old.models
    table_new = new.operations if kind == "operation" else new.models
    return table_old.get(name) != table_new.get(name)
