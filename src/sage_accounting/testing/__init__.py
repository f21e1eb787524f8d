"""A local Sage Accounting sandbox for tests and manual use: ``sage_accounting.testing``.

Sage has no sandbox of its own; this one serves every operation of the SDK on 127.0.0.1, driven
by the same operations table the SDK is generated from, with OAuth, per-business records, the
list envelope, change filters, idempotency, per-area user roles and injectable faults::

    from sage_accounting.testing import Fault, SageSandbox

    with SageSandbox() as sage:                 # starts in a few milliseconds
        client = sage.client()                  # SageAccounting with a live token
        for contact in client.contacts.list(attributes="all"):
            print(contact.name, contact.balance)
        sage.inject(Fault.rate_limited(retry_after=1))    # the next request gets a 429
        sage.set_role("Sales", "Read Only")     # sales writes now get 403 MultiUserAccessDenied

pytest fixtures (registered by the package's ``pytest11`` entry point; nothing to import):

- ``sage_sandbox`` (alias ``sage_server``): a running ``SageSandbox`` with the demo business,
  new for each test;
- ``sage_client``: a ``SageAccounting`` for it (lead business, live token), closed after the test;
- ``async_sage_client``: the same as an ``AsyncSageAccounting``.

For example, in your own test suite::

    def test_invoices_are_listed(sage_client):
        assert [i.displayed_as for i in sage_client.sales_invoices.list()][:1] == ["SI-1"]

    def test_we_survive_rate_limits(sage_sandbox, sage_client):
        sage_sandbox.inject(Fault.rate_limited(retry_after=0, times=2))
        assert sage_client.contacts.list().first_page()

From a shell: ``python -m sage_accounting.testing`` (or ``sage-accounting sandbox`` with the
``[cli]`` extra) serves until interrupted and prints the base URL and a ready access token.
What the sandbox does with each kind of operation is described in ``_operations.py`` and
``_records.py``; importing ``sage_accounting`` does not import this package, nor pytest.
"""

from __future__ import annotations

from ._sandbox import SageSandbox
from ._state import Fault, SandboxClock, SandboxLimits

__all__ = ["Fault", "SageSandbox", "SandboxClock", "SandboxLimits"]
