"""Configuration from the environment, for arguments the caller did not pass.

    SAGE_ACCESS_TOKEN    a bare access token (when neither access_token= nor session= is given)
    SAGE_BUSINESS_ID     the business every call is for (X-Business)
    SAGE_BASE_URL        the API's base URL (a sandbox, a proxy)
    SAGE_CLIENT_ID       } the registered app, for OAuthApp
    SAGE_CLIENT_SECRET   }
    SAGE_REDIRECT_URI    }

An argument always wins over the environment; an empty variable counts as unset. Secrets read
here are registered with the redaction registry at once, so they never reach a log line or an
error message, and nothing here logs.
"""

from __future__ import annotations

import os

from ._redact import remember

ACCESS_TOKEN = "SAGE_ACCESS_TOKEN"
BUSINESS_ID = "SAGE_BUSINESS_ID"
BASE_URL = "SAGE_BASE_URL"
CLIENT_ID = "SAGE_CLIENT_ID"
CLIENT_SECRET = "SAGE_CLIENT_SECRET"
REDIRECT_URI = "SAGE_REDIRECT_URI"
_SECRETS = frozenset({ACCESS_TOKEN, CLIENT_SECRET})


def env(name: str) -> str | None:
    """The variable's value, or None when it is unset or empty."""
    value = os.environ.get(name) or None
    if value is not None and name in _SECRETS:
        remember(value)
    return value


def argument_or_env(value: str | None, name: str) -> str | None:
    """``value`` when given, else the environment variable ``name``."""
    return value if value is not None else env(name)
