"""``ChangePoll``: a change feed's steps for a caller that walks the pages itself (the database
sync). Driven by hand it gives what the feed gives, and it refuses its steps out of order."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from present import present

from sage_accounting import SageAccounting
from sage_accounting._runtime import ArgumentValueError, ChangePoll, OutOfOrderError, SyncPager
from sage_accounting.testing import SageSandbox


@pytest.fixture
def client(sage_sandbox: SageSandbox) -> Iterator[SageAccounting]:
    with sage_sandbox.client() as client:
        yield client


def _pagers(client: SageAccounting) -> Any:
    def pagers(query: dict[str, Any]) -> SyncPager[Any]:
        return client.products.list(**query)

    return pagers


def test_a_poll_driven_by_hand_reads_what_the_feed_reads_and_the_next_poll_sees_deletions(
    client: SageAccounting, sage_sandbox: SageSandbox
) -> None:
    poll = ChangePoll(_pagers(client), None, {}, 60.0)
    ids: list[str] = []
    for page in poll.upserts().pages():
        poll.saw(page)
        ids.extend(present(record.id) for record in page.items)
    assert poll.deletions() is None  # a first poll: nothing to delete from an empty copy
    cursor = poll.finish()
    assert cursor == poll.cursor and cursor.tzinfo is not None and cursor.microsecond == 0
    assert poll.upserts_total == len(ids) > 0
    feed = client.products.changes(since=None)
    assert sorted(c.id for c in feed if c.id) == sorted(ids)  # the feed is this poll, iterated

    sage_sandbox.clock.advance(120)
    gone = ids[0]
    client.products.delete(gone)
    again = ChangePoll(_pagers(client), cursor, {}, 60.0)
    for page in again.upserts().pages():
        again.saw(page)
    deletions = again.deletions()
    assert deletions is not None
    assert [record.id for record in deletions] == [gone]
    assert again.finish() >= cursor  # the earlier clock (ours: the sandbox's ran ahead)


def test_a_polls_steps_out_of_order_are_refused() -> None:
    asked: list[dict[str, Any]] = []
    poll = ChangePoll(asked.append, None, {"attributes": "all"}, 60.0)
    with pytest.raises(OutOfOrderError, match="iterate the feed"):
        poll.cursor  # noqa: B018
    with pytest.raises(OutOfOrderError, match="after its upserts"):
        poll.finish()
    poll.upserts()
    assert asked == [{"attributes": "all", "updated_or_created_since": None}]
    with pytest.raises(OutOfOrderError, match="iterated once"):
        poll.upserts()
    with pytest.raises(ArgumentValueError, match="timezone-aware"):
        ChangePoll(asked.append, dt.datetime(2026, 1, 1), {}, 60.0)
