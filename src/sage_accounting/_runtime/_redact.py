"""Keeping secrets out of everything the SDK raises or logs.

Sage's error text is copied into exception messages, and Sage sometimes echoes what it was sent
(a refresh token in an ``invalid_grant`` description, a code in a redirect error). So every secret
the SDK handles (access and refresh tokens, the client secret, authorization codes, PKCE
verifiers) is remembered here when it is first seen, and ``redact`` removes each of them, plus
anything shaped like a credential, from a text before it becomes part of an exception or a log line.

The registry is process-wide and bounded: tokens rotate every few minutes, and an old token is as
much a secret as a new one, but a long-running process must not grow without limit.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict

REDACTED = "[REDACTED]"
_MAX_REMEMBERED = 4096
# Shorter strings are not treated as secrets: replacing them would mangle ordinary text.
_MIN_SECRET_LENGTH = 8

_lock = threading.Lock()
_secrets: OrderedDict[str, None] = OrderedDict()

# Credential-shaped text, whoever wrote it: "Bearer xyz", "refresh_token=xyz", 'client_secret=xyz'.
_SHAPED = re.compile(
    r"(?i)(\bbearer\s+|\bbasic\s+|"
    r"\b(?:access_token|refresh_token|id_token|client_secret|code_verifier|password)"
    r"[\"']?\s*[=:]\s*[\"']?|"
    r"\bcode=)"
    # A value never starts with a bracket: prose does ("access_token= (a bare token"), and so
    # does a value already [REDACTED].
    r"([^\s\"'&,;}(\[][^\s\"'&,;}]*)"
)


def remember(*secrets: str | None) -> None:
    """Register secrets so that ``redact`` removes them from any text from now on."""
    with _lock:
        for secret in secrets:
            if isinstance(secret, str) and len(secret) >= _MIN_SECRET_LENGTH:
                _secrets[secret] = None
                _secrets.move_to_end(secret)
        while len(_secrets) > _MAX_REMEMBERED:
            _secrets.popitem(last=False)


def redact(text: str) -> str:
    """``text`` with every remembered secret and every credential-shaped value replaced."""
    if not text:
        return text
    with _lock:
        known = [s for s in _secrets if s in text]
    # Longest first, so that a secret containing another is removed whole.
    for secret in sorted(known, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return _SHAPED.sub(lambda m: m.group(1) + REDACTED, text)
