"""What can go wrong when calling Sage, and what a program does about each kind of failure.

Every failure is a ``SageError`` subclass whose message is one line naming the cause (with Sage's
request id when there is one) and never a token. Mistakes in the arguments are
``SageArgumentError``s (also ``TypeError``/``ValueError``), raised before any request.

    export SAGE_ACCESS_TOKEN=... [SAGE_BUSINESS_ID=...] [SAGE_BASE_URL=...]
    python examples/error_handling.py

Each step prints one line: what it tried, then ``ok`` or the exception's class and message, then
what to do about it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sage_accounting import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    NoActiveSubscriptionError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ReauthorizationRequired,
    SageAccounting,
    SageArgumentError,
    SageError,
    UnprocessableEntityError,
)
from sage_accounting.models import ContactCreateParams


def advice(error: SageError) -> str:
    """What to do about an error. Order matters: subclasses before their bases."""
    if isinstance(error, SageArgumentError):
        return "fix the call: nothing was sent"
    if isinstance(error, ReauthorizationRequired):
        return "send the user through authorization again"
    if isinstance(error, NoActiveSubscriptionError):
        return "the business's subscription lapsed: refreshing will not help"
    if isinstance(error, AuthenticationError):
        return "the token was refused: check it, or use an OAuthSession that refreshes"
    if isinstance(error, PermissionDeniedError):
        return "the user's role does not allow this (the message names the roles that do)"
    if isinstance(error, NotFoundError):
        return "the record does not exist in this business (or was deleted)"
    if isinstance(error, UnprocessableEntityError):
        problems = ", ".join(str(e) for e in error.errors)
        return f"Sage rejected the data: {problems}"
    if isinstance(error, RateLimitError):
        wait = f"{error.retry_after:g} s" if error.retry_after is not None else "a while"
        return f"too many requests, even after retries: wait {wait}"
    if isinstance(error, APIStatusError) and error.status_code >= 500:
        return "Sage failed even after retries: try later, quoting the request id"
    if isinstance(error, APIConnectionError):
        return "no answer from Sage (network or timeout) even after retries: try later"
    return "see the message"


def attempt(label: str, call: Callable[[], Any]) -> bool:
    """Run one call; print one line either way. True when it worked."""
    try:
        result = call()
    except SageError as error:  # anything else is a bug in this program: let it surface
        print(f"{label}: {type(error).__name__}: {error} -> {advice(error)}")
        return False
    print(f"{label}: ok ({result})")
    return True


def main() -> int:
    where: dict[str, Any] = {"access_token": os.environ["SAGE_ACCESS_TOKEN"]}
    for argument, variable in (("business_id", "SAGE_BUSINESS_ID"), ("base_url", "SAGE_BASE_URL")):
        if os.environ.get(variable):
            where[argument] = os.environ[variable]
    with SageAccounting(**where) as client:
        customer: ContactCreateParams = {
            "name": "Error Handling Ltd",
            "contact_type_ids": ["CUSTOMER"],
        }
        steps: list[tuple[str, Callable[[], Any]]] = [
            # Wrong on purpose (mypy says so too): the SDK refuses each before any request.
            ("a wrong argument type", lambda: client.contacts.list(items_per_page="ten")),  # type: ignore[arg-type]
            (
                "money as a float",
                lambda: client.contacts.create(contact={**customer, "credit_limit": 0.1}),  # type: ignore[arg-type]
            ),
            ("a contact that does not exist", lambda: client.contacts.get("no-such-contact")),
            (
                "a contact with an empty name",
                lambda: client.contacts.create(contact={**customer, "name": ""}),
            ),
            (
                "a contact with a credit limit",
                lambda: client.contacts.create(
                    contact={**customer, "credit_limit": Decimal("2500.00")}
                ).displayed_as,
            ),
            ("ledger accounts, once", lambda: len(list(client.ledger_accounts.list()))),
        ]
        results = [attempt(label, call) for label, call in steps]
    with SageAccounting(**{**where, "access_token": "not-a-valid-token"}) as stranger:
        results.append(attempt("a refused token", lambda: stranger.contacts.get("any")))
    print(f"{results.count(True)} of {len(results)} steps worked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
