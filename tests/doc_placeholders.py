"""The documented placeholders of README and docs examples (``"..."`` ids, ``CLIENT_ID``, the
callback URL), filled with real sandbox values: one home for the tests that run the examples."""

from __future__ import annotations

from sage_accounting.testing import SageSandbox


def fill_placeholders(code: str, sage: SageSandbox) -> str:
    """The block with its documented placeholders filled by real sandbox values."""
    contact = next(iter(sage.records("contacts")))
    ledger = next(iter(sage.records("ledger_accounts")))
    (attachment,) = sage.seed(
        "attachments", 1, file="JVBERi0xLjQgZGVtbw==", file_name="invoice.pdf",
        mime_type="application/pdf",
    )  # fmt: skip
    values = {
        'access_token="..."': f'access_token="{sage.access_token}"',
        'business_id="..."': f'business_id="{sage.lead_business}"',
        '"contact_id": "..."': f'"contact_id": "{contact}"',
        '"ledger_account_id": "..."': f'"ledger_account_id": "{ledger}"',
        'contacts.get("...")': f'contacts.get("{contact}")',
        '"attachment-id"': f'"{attachment}"',
        '"another-business-id"': f'"{sage.state.businesses[1]}"',
        "CLIENT_ID": repr(sage.state.client_id),
        "CLIENT_SECRET": repr(sage.state.client_secret),
        '"https://example.com/callback"': repr(sage.state.redirect_uri),
    }
    for placeholder, value in values.items():
        code = code.replace(placeholder, value)
    assert '"..."' not in code, code
    return code
