"""What a sync shows on a terminal: one line redrawn as pages arrive (business, resource,
records, pages, requests, quota left), and one line per business when it is done. On a pipe or a
file only the per-business lines are written."""

from __future__ import annotations

import sys
import time
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from ._business import BusinessResult, BusinessSync


def quota_left(sync: BusinessSync) -> str:
    """Requests left today for the business (the smaller of its day and the app's), from the
    client's quota ledger; "unlimited" when the ledger counts no day limit."""
    left = sync.client.quota.day_remaining
    return "unlimited" if left is None else f"{left:,}"


class Progress:
    def __init__(self, out: IO[str] | None = None) -> None:
        self.out = out or sys.stderr
        self.live = self.out.isatty()
        self._last = 0.0
        self._quota_read = 0.0
        self._quota = "?"
        self._width = 0

    def _quota_left(self, sync: BusinessSync, now: float) -> str:
        if now - self._quota_read >= 1.0:  # a shared ledger is a query away: once a second
            self._quota_read = now
            self._quota = quota_left(sync)
        return self._quota

    def page(self, sync: BusinessSync, resource: str) -> None:
        if not self.live:
            return
        now = time.monotonic()
        if now - self._last < 0.1:
            return
        self._last = now
        c = sync.result.counters
        line = (
            f"{sync.business}  {resource:<28} {c.records:>8,} records {c.deleted:>6,} deleted "
            f"{c.pages:>6,} pages {c.requests:>6,} requests  quota left "
            + self._quota_left(sync, now)
        )
        self._width = max(self._width, len(line))
        self.out.write("\r" + line.ljust(self._width))
        self.out.flush()

    def done(self, sync: BusinessSync, result: BusinessResult) -> None:
        c = result.counters
        if self.live and self._width:
            self.out.write("\r" + " " * self._width + "\r")
        line = (
            f"{result.business_id}: {c.records:,} records, {c.deleted:,} deleted, "
            f"{c.pages:,} pages, {c.requests:,} requests in {result.seconds:.1f} s"
            f" (quota left today {quota_left(sync)})"
        )
        self.out.write(line + "\n")
        for note in c.fallbacks:
            self.out.write(f"  heavy page: {note}\n")
        for resource, why in sorted(result.skipped.items()):
            self.out.write(f"  skipped {resource}: {why}\n")
        self.out.flush()
