"""Run the fake Sage server from a shell: ``PYTHONPATH=tests python -m fake_sage --port 8765``."""

from __future__ import annotations

import argparse
import json
import time

from .server import FakeSage, Fault


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--contacts", type=int, default=25, help="contacts to seed per business")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every API GET")
    args = parser.parse_args()
    sage = FakeSage().start(args.port)
    if args.latency:
        sage.inject(Fault(kind="slow", delay=args.latency, times=10**9, method="GET", path="/"))
    for business in sage.state.businesses:
        sage.seed("contacts", args.contacts, business=business, contact_type_ids=["CUSTOMER"])
    tokens = sage.issue_tokens()
    print(
        json.dumps({"base_url": sage.base_url, "token_url": sage.token_url, **tokens}), flush=True
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        sage.stop()


if __name__ == "__main__":
    main()
