"""Agent policies: the level of every operation in the spec, and policies refused at load."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from sage_accounting.agents import PolicyError, parse_policy
from sage_accounting.agents.cli import COMMANDS, agents
from sage_accounting.agents.levels import AREAS, LEVELS
from sage_accounting.agents.tools import agent_tools
from sage_codegen.ir import Api

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "agents" / "policy.toml"

# What each level lets an agent do, said as the Sage roles whose operations it covers.
ROLES_OF_LEVEL = {
    "off": set(),
    "read": {"Read Only"},
    "write": {"Read Only", "Restricted Access"},
    "full": {"Read Only", "Restricted Access", "Full Access"},
}


def one_area_policy(area: str, level: str) -> str:
    return f'[agents.a]\nareas = {{ "{area}" = "{level}" }}\n'


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("area", AREAS)
def test_every_operation_gets_the_level_its_parsed_access_asks_for(
    api: Api, area: str, level: str
) -> None:
    agent = parse_policy(one_area_policy(area, level)).agent("a")
    for op in api.operations:
        # The roles a user needs in this area, from the IR; the operation is the agent's when
        # one of them is a role the level stands for. No access text: never granted by level.
        needed = {role for a in (op.access.areas if op.access else ()) if a.area == area
                  for role in a.roles}  # fmt: skip
        if "Full Access" in needed and not needed - {"Full Access"}:
            expected = level == "full"
        else:
            expected = bool(needed - {"Full Access"} & ROLES_OF_LEVEL[level])
        assert agent.decide(op.operation_id).allowed is expected, (op.operation_id, area, level)


def test_the_reason_names_the_area_the_level_and_what_is_needed() -> None:
    agent = parse_policy(one_area_policy("Contacts", "read")).agent("a")
    assert agent.decide("deleteContactsKey").reason == "Contacts: read only; deleting needs full"
    assert not agent.decide("getCountries").allowed  # no access text: denied by default
    assert "allow it by name" in agent.decide("getCountries").reason


def test_overrides_by_method_and_resource_deny_wins() -> None:
    policy = parse_policy(
        '[agents.a]\nareas = { Sales = "full" }\n'
        'allow = ["countries", "contacts.get"]\ndeny = ["sales_invoices.delete", "sales_quotes"]\n'
    )
    agent = policy.agent("a")
    assert agent.decide("getCountries").allowed and agent.decide("getCountriesKey").allowed
    assert agent.decide("getContactsKey").allowed
    assert not agent.decide("deleteSalesInvoicesKey").allowed
    assert agent.decide("putSalesInvoicesKey").allowed
    assert not agent.decide("getSalesQuotes").allowed
    assert agent.decide("getSalesQuotes").reason == "the policy denies sales_quotes"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[agents.a]\nareas = { Sale = "read" }\n', "<policy>:2: unknown area 'Sale' (did you mean 'Sales'?)"),
        ('[agents.a]\nareas = { Sales = "reed" }\n', "did you mean 'read'?"),
        ('[agents.a]\n\nallow = ["sales_invoice.release"]\n',
         "<policy>:3: allow names unknown method 'sales_invoice.release' (did you mean 'sales_invoices.release'?)"),
        ('[agents.a]\ndeny = ["contact"]\n', "unknown resource 'contact' (did you mean 'contacts'?)"),
        ('[businesses]\n"biz-1" = "One"\n[agents.a]\nbusinesses = ["biz-2"]\n',
         "<policy>:4: agent 'a' names unknown business 'biz-2' (did you mean 'biz-1'?)"),
        ('[agents.a]\nbudgets = { per_minute = 1 }\n', "unknown setting of agent 'a' 'budgets' (did you mean 'budget'?)"),
        ('[agents.a]\napproval = { areas = ["Bnk"] }\n', "approval names unknown area 'Bnk' (did you mean 'Bank'?)"),
        ('[agents.a]\napproval = { over_amount = "lots" }\n', "over_amount 'lots' is not an amount"),
        ('[agents.a]\nbudget = { per_minute = -1 }\n', "budgets are whole numbers"),
        ('[agents.a]\ntools = ["contacs"]\n', "unknown resource 'contacs' (did you mean 'contacts'?)"),
        ('[agent.a]\n', "unknown setting 'agent' (did you mean 'agents'?)"),
        ("[businesses]\n", "the policy names no agents"),
        ("[agents.a\n", "not valid TOML"),
    ],
)  # fmt: skip
def test_a_bad_policy_is_refused_with_its_line_and_the_closest_name(
    text: str, message: str
) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text)
    assert message in str(caught.value)


def test_the_example_policy_loads_and_check_prints_each_agent_by_area() -> None:
    result = CliRunner().invoke(agents, ["check", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert (
        "Bookkeeping Agent (bookkeeper)\n  businesses: Acme Trading Ltd (b1e6a8f0c2d94e1fa0c3)"
        in out
    )
    assert "  budget: 30 calls a minute, 2000 calls a day" in out
    assert (
        "needs a person's approval for: writes in Bank; writes with an amount over 1000.00" in out
    )
    assert (
        "    sales invoices: list, create, get, update\n" in out
    )  # release denied, delete is full
    assert "  Allowed by name\n    contact payments: create\n    currencies: list, get\n" in out
    assert "84 operations permitted; 14 tools (12 operations, 2 meta-tools)" in out
    assert (
        "Credit Control Agent (credit_control)\n  businesses: all of the authorizing user's" in out
    )
    assert "    contacts: list, get\n" in out
    assert "49 operations permitted; 6 tools (4 operations, 2 meta-tools)" in out


def test_check_exits_non_zero_on_a_bad_policy(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[agents.a]\nareas = { Sals = "read" }\n')
    result = CliRunner().invoke(agents, ["check", str(bad)])
    assert result.exit_code == 2  # a usage error (cli/exit_codes.py), one line
    assert result.output.startswith("error: ")
    assert f"{bad}:2: unknown area 'Sals' (did you mean 'Sales'?)" in result.output


def test_python_dash_m_runs_the_commands() -> None:
    assert [c.name for c in COMMANDS] == ["agents", "audit", "mcp"]
    done = subprocess.run(
        [sys.executable, "-m", "sage_accounting.agents", "agents", "check", str(EXAMPLE)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Credit Control Agent" in done.stdout


def test_tools_hold_only_what_the_policy_allows() -> None:
    agent = parse_policy(
        '[agents.a]\nareas = { Contacts = "read" }\ntools = ["contacts"]\nmeta_tools = false\n'
    ).agent("a")
    assert [t.name for t in agent_tools(agent)] == ["contacts_list", "contacts_get"]


def test_money_in_a_tool_schema_is_a_decimal_string() -> None:
    agent = parse_policy('[agents.a]\nareas = { Sales = "write" }\n').agent("a")
    (create,) = [t for t in agent_tools(agent) if t.name == "sales_invoices_create"]
    invoice = create.input_schema["$defs"]["SalesInvoiceCreate"]["properties"]
    assert invoice["total_amount"]["type"] == "string"
    assert invoice["total_amount"]["format"] == "decimal"
    assert "Access: Sales (Full Access, Restricted Access)." in create.description


def test_an_operation_whose_access_text_did_not_parse_is_denied_and_says_why() -> None:
    from sage_accounting._runtime import Operation
    from sage_accounting.agents.levels import grants

    unknown = Operation(
        "getThings", "GET", "/things", access_known=False, resource="things", name="list"
    )
    allowed, reason = grants(unknown, {area: "full" for area in ("Sales", "Contacts")})
    assert not allowed
    assert "could not be read" in reason
