"""The runner's answers to an agent: Sage's numbers reach the agent with their digits."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
from policies import READER_POLICY

from sage_accounting import AsyncSageAccounting
from sage_accounting.agents import MemoryAuditSink, for_agent, parse_policy
from sage_accounting.agents.runner import Runner, tool_text

POLICY = READER_POLICY

# Money arrives as a JSON number "sometimes" (docs/sage-api-notes.md): digits beyond a float's.
PAGE = (
    b'{"$total": 1, "$page": 1, "$next": null, "$items": [{"id": "c1",'
    b' "balance": 12345678901234567.891, "credit_limit": 1.10, "credit_days": 30}]}'
)


async def test_a_list_keeps_every_digit_of_a_number_for_the_agent() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=PAGE, headers={"X-Business": "biz-lead"})

    policy = parse_policy(POLICY)
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        client = AsyncSageAccounting(access_token="t", business_id="biz-lead", http_client=http)
        guarded = for_agent(client, policy, "reader", audit=MemoryAuditSink())
        result, is_error = await Runner(guarded, policy.agent("reader")).call("contacts_list", {})
    assert not is_error
    (item,) = result["items"]
    assert item["balance"] == Decimal("12345678901234567.891")
    assert str(item["credit_limit"]) == "1.10" and item["credit_days"] == 30
    text = json.loads(tool_text(result))["items"][0]
    # Never through a float: the agent reads Sage's digits (as a string, as Sage mostly sends).
    assert text["balance"] == "12345678901234567.891" and text["credit_limit"] == "1.10"
    assert text["credit_days"] == 30
