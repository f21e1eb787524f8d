"""Approvals signed by a person: Ed25519 keys, with the ``cryptography`` library.

An approver holds a private key (``sage-accounting agents approver-key`` makes one); the policy
holds its public key. ``agents approve`` signs the exact write approved (its approval id, agent,
operation and request fingerprint) with the private key; the guard sends an approved write only
when the signature verifies against an approver's public key in the policy. Write access to the
audit database is therefore not enough to approve: a row saying "approved" without a signature
a policy's approver made is not honoured.
"""

from __future__ import annotations

import base64
import binascii

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

PRIVATE_PREFIX = "sk-approver-"


def new_key() -> tuple[str, str]:
    """(private key for the person, public key for the policy), both as text."""
    private = Ed25519PrivateKey.generate()
    raw = private.private_bytes_raw()
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return PRIVATE_PREFIX + _b64(raw), _b64(public)


def public_key_of(private_key: str) -> str | None:
    """The public key of a private key as ``new_key`` writes it; None if it is not one."""
    private = _private(private_key)
    if private is None:
        return None
    return _b64(private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))


def sign(private_key: str, message: bytes) -> str:
    private = _private(private_key)
    if private is None:
        raise ValueError("not an approver key")
    return _b64(private.sign(message))


def verifies(public_key: str, message: bytes, signature: str) -> bool:
    try:
        key = Ed25519PublicKey.from_public_bytes(_unb64(public_key))
        key.verify(_unb64(signature), message)
    except (InvalidSignature, ValueError, binascii.Error):
        return False
    return True


def valid_public_key(text: str) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(_unb64(text))
    except (ValueError, binascii.Error):
        return False
    return True


def _private(text: str) -> Ed25519PrivateKey | None:
    if not text.startswith(PRIVATE_PREFIX):
        return None
    try:
        return Ed25519PrivateKey.from_private_bytes(_unb64(text[len(PRIVATE_PREFIX) :]))
    except (ValueError, binascii.Error):
        return None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
