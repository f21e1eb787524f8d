"""Secrets never reach exception text or logs, whoever wrote the text they are in."""

from __future__ import annotations

from sage_accounting._runtime._redact import REDACTED, redact, remember


def test_a_remembered_secret_is_removed_wherever_it_appears() -> None:
    remember("rt-0123456789abcdef")
    text = redact("invalid_grant: refresh token rt-0123456789abcdef is no longer valid")
    assert "rt-0123456789abcdef" not in text
    assert REDACTED in text


def test_credential_shaped_values_are_removed_even_when_unknown() -> None:
    for raw, secret in [
        ("Authorization: Bearer abc.def.ghi", "abc.def.ghi"),
        ('{"refresh_token": "zzzzzzzzzz"}', "zzzzzzzzzz"),
        ("grant_type=authorization_code&code=GB%2Fsecretcode&client_secret=s3cr3t", "s3cr3t"),
        ("grant_type=authorization_code&code=GB%2Fsecretcode", "GB%2Fsecretcode"),
    ]:
        assert secret not in redact(raw)


def test_ordinary_text_is_left_alone() -> None:
    text = "RecordInvalid: name can't be blank (name); status code: 422; $dataCode: X"
    assert redact(text) == text
    remember("short")  # too short to be a secret: replacing it would mangle ordinary words
    assert redact("a short note") == "a short note"
