"""Run the fake Sage server from a shell: ``PYTHONPATH=tests python -m fake_sage --port 8765``."""

from __future__ import annotations

import argparse
import json
import time

from .server import FakeSage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--contacts", type=int, default=25, help="contacts to seed per business")
    args = parser.parse_args()
    sage = FakeSage().start(args.port)
    for business in sage.state.businesses:
        sage.seed("contacts", args.contacts, business=business, contact_type_ids=["CUSTOMER"])
    tokens = sage.issue_tokens()
    print(json.dumps({"base_url": sage.base_url, "token_url": sage.token_url, **tokens}, indent=2))
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        sage.stop()


if __name__ == "__main__":
    main()
