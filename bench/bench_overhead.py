"""Runtime overhead per call: ``client.contacts.get(id)`` (generated method -> runtime -> local
Sage sandbox on 127.0.0.1) vs a bare ``httpx`` GET of the same URL with the same headers, both on
a kept-alive connection (target <= 1.3x)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import httpx  # noqa: E402
from _timing import interleaved, report  # noqa: E402

from sage_accounting import SageAccounting  # noqa: E402
from sage_accounting.testing import SageSandbox  # noqa: E402

CALLS = 200
REPEAT = 9


def main() -> bool:
    with SageSandbox(demo_data=False) as sage:
        (contact_id,) = sage.seed(
            "contacts", 1, contact_type_ids=["CUSTOMER"], credit_limit="100.00"
        )
        token = sage.issue_tokens()["access_token"]
        client = SageAccounting(access_token=token, base_url=sage.base_url, business_id="biz-lead")
        bare = httpx.Client()
        url = f"{sage.base_url}/contacts/{contact_id}"
        headers = {
            "Authorization": f"Bearer {token}",
            "X-Business": "biz-lead",
            "Accept": "application/json",
        }

        def sdk() -> None:
            for _ in range(CALLS):
                client.contacts.get(contact_id)

        def baseline() -> None:
            for _ in range(CALLS):
                bare.get(url, headers=headers).json()

        sdk()  # warm up connections and validators
        baseline()
        subject, base = interleaved(sdk, baseline, REPEAT)
        client.close()
        bare.close()
    return report(
        "per call: SDK vs bare httpx", subject / CALLS * 1000, base / CALLS * 1000, 1.3, unit="ms"
    )


if __name__ == "__main__":
    main()
