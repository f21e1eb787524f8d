"""Plain words for the audit log: "Bookkeeping Agent created sales invoice SI-1042 for Acme Ltd,
1,200.00 GBP, in Business One: allowed"."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from .._runtime import Operation, loads, singular

PAST = {"list": "listed", "get": "read", "create": "created", "update": "updated",
        "delete": "deleted"}  # fmt: skip
PRESENT = {"list": "list", "get": "read", "create": "create", "update": "update",
           "delete": "delete"}  # fmt: skip


def action(op: Operation, done: bool) -> str:
    """ "created sales invoice" (done) or "create sales invoice"."""
    table = PAST if done else PRESENT
    noun = (op.resource if op.kind == "list" else singular(op.resource)).replace("_", " ")
    if op.kind in table:
        return f"{table[op.kind]} {noun}"
    verb = op.name.split("_")[0]
    if done:
        verb = verb + ("d" if verb.endswith("e") else "ed")
    return f"{verb} {noun}"


def target_id(template: str, path: str) -> str | None:
    """The last path parameter's value: /contacts/{key} and /contacts/c-1 -> "c-1"."""
    found = None
    for pattern, value in zip(template.split("/"), path.split("/"), strict=False):
        if pattern.startswith("{"):
            found = value
    return found


def describe_record(content: bytes | None) -> str:
    """ " SI-1042 for Acme Ltd, 1,200.00 GBP" from a written record's answer, or ""."""
    try:
        record: Any = loads(content) if content else None
    except ValueError:
        return ""
    if not isinstance(record, dict):
        return ""
    text = ""
    label = record.get("displayed_as") or record.get("reference") or record.get("id")
    if isinstance(label, str) and label:
        text += f" {label}"
    contact = record.get("contact")
    if isinstance(contact, dict) and isinstance(contact.get("displayed_as"), str):
        text += f" for {contact['displayed_as']}"
    amount = record.get("total_amount")
    if amount is not None:
        try:
            text += f", {Decimal(str(amount)):,.2f}"
        except InvalidOperation:
            pass
        else:
            currency = record.get("currency")
            if isinstance(currency, dict) and isinstance(currency.get("id"), str):
                text += f" {currency['id']}"
    return text


def summary(agent: str, op: Operation, *, done: bool, target: str | None,
            detail: str, business: str, decision: str) -> str:  # fmt: skip
    what = action(op, done)
    if not done:
        what = f"tried to {what}"
    where = f" in {business}"
    thing = detail or (f" {target}" if target else "")
    return f"{agent} {what}{thing}{',' if ',' in thing else ''}{where}: {decision}"
