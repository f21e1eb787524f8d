"""One worker process of the many-hosts tests (``test_scale_race.py``): run as a script with its
own temporary directory as cwd and HOME; nothing shared with its siblings but the store's server.

``refresh`` mode: keep calling the sandbox through an ``OAuthSession`` on the shared token store
until the deadline (5 s tokens, so the grant rotates every few seconds). With ``--victim`` its
first refresh, holding the grant's lock, writes ``victim-refreshing`` and pauses before asking
Sage, so that the test can kill it -9 right there.

``quota`` mode: call one business as fast as the shared quota ledger allows until the deadline.

Prints one JSON line: calls, refreshes made by this process, statuses seen, send and admission
times, and
how late after the common start it was ready (a loaded machine's slow start-up).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from sage_accounting import (
    OAuthApp,
    OAuthSession,
    Quota,
    QuotaExceededError,
    QuotaLimits,
    RateLimit,
    RateLimitError,
    SageAccounting,
    SageError,
)

# The grant lock's lease: longer than a refresh round trip on 127.0.0.1 by far, and short enough
# that the run goes on soon after the victim dies holding it.
LEASE = 8.0


def make_store(spec: str, key: str) -> Any:
    """``redis:<url>`` or ``sql:<url>``: the shared token store of grant ``key``."""
    from sage_accounting import scale

    kind, _, url = spec.partition(":")
    if kind == "redis":
        return scale.RedisTokenStore(url, key, lease=LEASE)
    if kind == "sql":
        return scale.SQLTokenStore(url, key, lease=LEASE)
    raise SystemExit(f"unknown store {spec!r}")


def make_quota_backend(spec: str) -> Any:
    from sage_accounting import scale

    kind, _, url = spec.partition(":")
    if kind == "redis":
        return scale.RedisQuotaBackend(url)
    if kind == "sql":
        return scale.SQLQuotaBackend(url)
    raise SystemExit(f"unknown backend {spec!r}")


class CountingApp(OAuthApp):
    """The app, counting this process's refreshes (and pausing once as the victim)."""

    victim_marker: Path | None = None
    refreshes = 0

    def refresh(self, refresh_token: str) -> Any:
        if self.victim_marker is not None:
            marker, self.victim_marker = self.victim_marker, None
            marker.write_text("1")
            time.sleep(3)  # the test kills us here, lock held, Sage not yet asked
        tokens = super().refresh(refresh_token)
        type(self).refreshes += 1
        return tokens


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["refresh", "quota"])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--token-url", required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--store", required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--victim", type=Path)
    parser.add_argument("--business")
    parser.add_argument(
        "--start-at", type=float, default=0.0, help="epoch to start at (after start-up)"
    )
    parser.add_argument("--key", required=True, help="the grant's name in the store")
    args = parser.parse_args()

    app = CountingApp(
        args.client_id, args.client_secret, "http://127.0.0.1/callback", token_url=args.token_url
    )
    deadline = (args.start_at or time.time()) + args.seconds
    statuses: dict[str, int] = {}
    sent: list[float] = []
    admitted: list[float] = []
    calls, late = 0, 0.0
    if args.mode == "refresh":
        app.victim_marker = args.victim
        # The victim wants a new pair before the others do, so its refresh comes first.
        margin = 4.5 if args.victim else 2.0
        session = OAuthSession(app, make_store(args.store, args.key), refresh_margin=margin)
        client = SageAccounting(session=session, base_url=args.base_url, max_retries=0)
        late = time.time() - args.start_at  # > 0: start-up outlasted its 15 s (a loaded machine)
        time.sleep(max(0.0, args.start_at - time.time()))  # every worker starts at once
        while time.time() < deadline:
            try:
                client.user.get()
                statuses["200"] = statuses.get("200", 0) + 1
            except SageError as exc:  # counted, and the run goes on: the test judges
                name = type(exc).__name__
                statuses[name] = statuses.get(name, 0) + 1
            calls += 1
            time.sleep(0.05)
    else:
        backend = make_quota_backend(args.store)
        admit = backend.admit

        def stamped(ask: Any, now: float) -> Any:  # when the ledger admitted each call
            verdict = admit(ask, now)
            if verdict.full is None:
                admitted.append(now)
            return verdict

        backend.admit = stamped
        quota = Quota(
            backend,
            QuotaLimits(in_flight=150, business_rate=RateLimit(100, per=60)),
            on_limit="wait",
            max_wait=120,
        )
        import httpx

        session = OAuthSession(app, make_store(args.store, args.key))
        stamp = lambda request: sent.append(time.time())  # noqa: E731  (when each leaves)
        http = httpx.Client()
        # Warm up as a long-running worker is: tokens loaded, a connection open (the sandbox does
        # not count /user against the business; nor does this unmetered client's ledger).
        SageAccounting(
            session=session,
            base_url=args.base_url,
            http_client=http,
            quota=Quota(limits=QuotaLimits.unlimited()),
        ).user.get()
        http.event_hooks["request"] = [stamp]
        client = SageAccounting(
            session=session,
            base_url=args.base_url,
            business_id=args.business,
            quota=quota,
            max_retries=0,
            http_client=http,
        )
        time.sleep(max(0.0, args.start_at - time.time()))  # every worker starts at once
        deadline = args.start_at + args.seconds
        while True:
            quota.max_wait = max(0.0, deadline - time.time())  # no wait beyond the run's end
            try:
                client.financial_settings.get()
            except QuotaExceededError:
                break
            except RateLimitError:
                statuses["429"] = statuses.get("429", 0) + 1
            except SageError as exc:
                statuses[type(exc).__name__] = statuses.get(type(exc).__name__, 0) + 1
            else:
                statuses["200"] = statuses.get("200", 0) + 1
            calls += 1
            if time.time() >= deadline:
                break
    json.dump(
        {
            "calls": calls,
            "refreshes": CountingApp.refreshes,
            "statuses": statuses,
            "sent": sent,
            "admitted": admitted,
            "ready_late_by": round(late, 1),
        },
        sys.stdout,
    )
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
