"""``python -m sage_accounting.testing``: run the sandbox on 127.0.0.1 until interrupted."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

from ._sandbox import SageSandbox
from ._state import Fault

TOKEN_HOURS = 12  # the printed token outlives a manual session; OAuth-issued ones last 5 min


def serve(
    port: int = 0, seed: int = 0, demo_data: bool = True, latency: float = 0.0, contacts: int = 0
) -> SageSandbox:
    """A started sandbox as the command line configures it."""
    sandbox = SageSandbox(seed=seed, demo_data=demo_data).start(port)
    if latency:
        sandbox.inject(Fault.latency(latency, times=sys.maxsize, path="/"))
    for business in sandbox.state.businesses:
        if contacts:
            sandbox.seed("contacts", contacts, business=business, contact_type_ids=["CUSTOMER"])
    return sandbox


def long_token(sandbox: SageSandbox, hours: float = TOKEN_HOURS) -> str:
    """An access token for a person at a shell: ``hours`` long, not Sage's 5 minutes."""
    return str(sandbox.issue_tokens(expires_in=int(hours * 3600))["access_token"])


def describe(sandbox: SageSandbox, token: str) -> str:
    """What a user needs to point the SDK (or curl) at the sandbox."""
    state = sandbox.state
    return "\n".join(
        [
            f"Sage sandbox running at {sandbox.origin}",
            f"base URL:      {sandbox.base_url}",
            f"access token:  {token}",
            f"businesses:    {', '.join(state.businesses)} (lead: {state.lead_business})",
            f"OAuth app:     client_id={state.client_id} client_secret={state.client_secret}",
            f"               redirect_uri={state.redirect_uri}",
            f"authorize URL: {sandbox.authorize_url}",
            f"token URL:     {sandbox.token_url}",
            f"revoke URL:    {sandbox.revoke_url}",
            "",
            "  export SAGE_BASE_URL=" + sandbox.base_url,
            "  export SAGE_ACCESS_TOKEN=" + token,
            "Press Ctrl+C to stop.",
        ]
    )


def as_json(sandbox: SageSandbox, token: str) -> str:
    """The same facts as one JSON line, for a script that starts the sandbox as a process."""
    facts = {
        "base_url": sandbox.base_url,
        "access_token": token,
        "token_url": sandbox.token_url,
        "revoke_url": sandbox.revoke_url,
        "authorize_url": sandbox.authorize_url,
        "client_id": sandbox.state.client_id,
        "client_secret": sandbox.state.client_secret,
        "redirect_uri": sandbox.state.redirect_uri,
        "businesses": sandbox.state.businesses,
    }
    return json.dumps(facts)


def wait(sandbox: SageSandbox) -> None:
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sage_accounting.testing", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the demo data and ids")
    parser.add_argument("--empty", action="store_true", help="no demo data")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to each call")
    parser.add_argument("--contacts", type=int, default=0, help="extra contacts per business")
    parser.add_argument("--json", action="store_true", help="print one JSON line (for scripts)")
    parser.add_argument(
        "--token-hours", type=float, default=TOKEN_HOURS, help="printed token's life"
    )
    args = parser.parse_args(argv)
    sandbox = serve(args.port, args.seed, not args.empty, args.latency, args.contacts)
    token = long_token(sandbox, args.token_hours)
    print(as_json(sandbox, token) if args.json else describe(sandbox, token), flush=True)
    wait(sandbox)


if __name__ == "__main__":
    main()
