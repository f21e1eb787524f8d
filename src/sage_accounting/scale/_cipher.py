"""``TokenCipher``: the stored tokens encrypted at rest with a key the user supplies.

Fernet (``cryptography``): AES-128-CBC with an HMAC-SHA256 over everything, a random IV per
message, one url-safe key string. Chosen over AES-GCM because it leaves nothing to get wrong (no
nonce to manage: a repeated GCM nonce under one key gives the key stream away), and because
``MultiFernet`` rotates keys: ``TokenCipher([new_key, old_key])`` reads both and writes with the
new one.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from .._runtime._errors import ArgumentValueError
from .._runtime._tokens import TokenStoreError


class TokenCipher:
    """Encrypts what a shared store writes; ``keys``: one Fernet key, or several (the first
    encrypts, any decrypts: key rotation). ``TokenCipher.generate_key()`` makes a key."""

    def __init__(self, keys: str | bytes | Sequence[str | bytes]) -> None:
        listed = [keys] if isinstance(keys, str | bytes) else list(keys)
        if not listed:
            raise ArgumentValueError("keys", "TokenCipher needs at least one key")
        try:
            self._fernet = MultiFernet([Fernet(key) for key in listed])
        except (ValueError, TypeError):
            raise ArgumentValueError(
                "keys",
                "a TokenCipher key must be 32 url-safe base64-encoded bytes "
                "(TokenCipher.generate_key() makes one)",
            ) from None

    def __repr__(self) -> str:
        return "TokenCipher(keys=***)"

    @staticmethod
    def generate_key() -> str:
        return Fernet.generate_key().decode("ascii")

    def encrypt(self, data: bytes) -> bytes:
        return self._fernet.encrypt(data)

    def decrypt(self, data: bytes, where: str) -> bytes:
        try:
            return self._fernet.decrypt(data)
        except InvalidToken:
            raise TokenStoreError(
                f"{where}: the stored tokens cannot be decrypted with the key given "
                "(another key, or not encrypted)"
            ) from None
