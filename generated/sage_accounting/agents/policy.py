"""The policy file: which agents exist and what each may do, read with ``tomllib``.

    [businesses]                       # the authorizing user's businesses: id = display name
    "biz-lead" = "Business One"

    [agents.bookkeeper]
    name = "Bookkeeping Agent"
    businesses = ["biz-lead"]          # or "all"
    areas = { Sales = "write", Bank = "read", Contacts = "read" }
    allow = ["contact_payments.create"]  # resource.method or a whole resource
    deny = ["sales_invoices.void"]
    budget = { per_minute = 30, per_day = 2000 }
    approval = { areas = ["Bank"], over_amount = "1000.00" }
    key_sha256 = "..."                 # the agent's MCP key, hashed

    [approvers.alice]                  # who may approve waiting writes (never an agent)
    name = "Alice Finance"
    public_key = "..."                 # from `sage-accounting agents approver-key`

Anything not granted is denied. Every value has an exact type (a string where a string is
meant, ``true``/``false`` for switches), names and display names are one line of text, and key
hashes are 64 lowercase hex digits, each agent's its own. A wrong name is refused at load with its line and the closest
valid name: a typo must never widen or silently narrow what an agent may do.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from .._runtime import Operation
from . import levels
from .budget import MemoryBudgetStore
from .errors import PolicyError

AGENT_KEYS = ("name", "businesses", "areas", "allow", "deny", "budget", "approval",
              "key_sha256", "tools", "meta_tools")  # fmt: skip
TOP_KEYS = ("businesses", "agents", "approvers", "audit", "sage")
APPROVER_KEYS = ("name", "public_key")
SAGE_KEYS = ("base_url", "token_store", "client_id", "client_secret_env", "token_url")
SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def operations() -> dict[str, Operation]:
    from .._runtime import all_operations

    return all_operations()


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str


@dataclass(frozen=True)
class AgentPolicy:
    key: str  # the agent's name in the file
    name: str  # display name
    businesses: tuple[str, ...] | None  # None: all of the authorizing user's
    areas: Mapping[str, str]
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    per_minute: int | None = None
    per_day: int | None = None
    approval_areas: frozenset[str] = frozenset()
    approval_over: Decimal | None = None
    key_sha256: str | None = None
    tools: tuple[str, ...] | None = None  # resources exposed as direct tools; None: all permitted
    meta_tools: bool = True
    _table: dict[str, Decision] = field(default_factory=dict, compare=False, repr=False)
    # Budgets counted in the process: shared by every guard of this agent without a database.
    budget_store: MemoryBudgetStore = field(
        default_factory=lambda: MemoryBudgetStore(), compare=False, repr=False
    )

    def decide(self, operation_id: str) -> Decision:
        """Allowed or not, and why; computed once per operation."""
        decision = self._table.get(operation_id)
        if decision is None:
            decision = self._table[operation_id] = self._decide(operations()[operation_id])
        return decision

    def _decide(self, op: Operation) -> Decision:
        method = f"{op.resource}.{op.name}"
        for name in (method, op.resource):
            if name in self.deny:
                return Decision(False, f"the policy denies {name}")
        for name in (method, op.resource):
            if name in self.allow:
                return Decision(True, f"the policy allows {name}")
        return Decision(*levels.grants(op, dict(self.areas)))

    def permitted(self) -> list[str]:
        return [op_id for op_id in operations() if self.decide(op_id).allowed]

    def needs_approval(self, op: Operation) -> str | None:
        """Why a write of this operation waits for a person (None: it does not)."""
        if op.method == "GET":
            return None
        for area in levels.requirement(op):
            if area in self.approval_areas:
                return f"writes in {area} need a person's approval"
        return None

    def may_act_on(self, business_id: str | None) -> bool:
        return self.businesses is None or business_id in self.businesses


@dataclass(frozen=True)
class Approver:
    """A person who may approve waiting writes: the policy holds their Ed25519 public key, the
    person the private key (an agent never does)."""

    key: str  # the approver's name in the file
    name: str  # display name
    public_key: str  # base64 of the 32-byte Ed25519 public key

    @property
    def identity(self) -> str:
        return f"{self.name} ({self.key})"


@dataclass(frozen=True)
class Policy:
    agents: Mapping[str, AgentPolicy]
    businesses: Mapping[str, str]  # id -> display name
    audit_path: Path | None = None
    sage: Mapping[str, Any] = field(default_factory=dict)  # the MCP server's Sage connection
    source: str = "<policy>"
    approvers: Mapping[str, Approver] = field(default_factory=dict)

    def agent(self, key: str) -> AgentPolicy:
        try:
            return self.agents[key]
        except KeyError:
            raise PolicyError(
                f"{self.source}: no agent {key!r}{_did_you_mean(key, self.agents)}"
            ) from None

    def agent_for_key(self, secret: str) -> AgentPolicy | None:
        """The agent whose hashed key this is (compared in constant time)."""
        import hmac

        digest = hash_key(secret)
        for agent in self.agents.values():
            if agent.key_sha256 and hmac.compare_digest(agent.key_sha256, digest):
                return agent
        return None


def load_policy(path: str | Path) -> Policy:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PolicyError(f"cannot read policy {path}: {exc.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise PolicyError(f"{path}:{line}: not UTF-8 (byte {data[exc.start]:#04x}): save the "
                          "policy as UTF-8") from None  # fmt: skip
    return parse_policy(text, source=str(path), base=path.parent)


def parse_policy(text: str, *, source: str = "<policy>", base: Path | None = None) -> Policy:
    return _Reader(text, source, base or Path.cwd()).read()


class _Reader:
    def __init__(self, text: str, source: str, base: Path) -> None:
        self.text, self.source, self.base = text, source, base
        self.lines = text.splitlines()
        self.ops = operations()
        self.resources = sorted({op.resource for op in self.ops.values()})
        self.methods = sorted({f"{op.resource}.{op.name}" for op in self.ops.values()})

    def fail(self, message: str, needle: str = "", section: str = "") -> PolicyError:
        line = self.line_of(needle, section)
        where = f"{self.source}:{line}" if line else self.source
        return PolicyError(f"{where}: {message}")

    def line_of(self, needle: str, section: str) -> int | None:
        """The line that says ``needle``, looked for from the header of ``section`` on."""
        start = 0
        if section:
            header = re.compile(r"^\s*\[+\s*" + re.escape(section).replace(r"\.", r"\s*\.\s*"))
            start = next((i for i, line in enumerate(self.lines) if header.match(line)), 0)
        for i in range(start, len(self.lines)):
            if needle and needle in self.lines[i]:
                return i + 1
        return start + 1 if section else None

    def read(self) -> Policy:
        try:
            data = tomllib.loads(self.text)
        except tomllib.TOMLDecodeError as exc:
            raise PolicyError(f"{self.source}: not valid TOML: {exc}") from None
        self.unknown_keys(data, TOP_KEYS, "", "setting")
        businesses = data.get("businesses", {})
        if not isinstance(businesses, dict) or not all(
            isinstance(v, str) for v in businesses.values()
        ):
            raise self.fail("[businesses] maps business ids to display names", "[businesses]")
        for business, display in businesses.items():
            self.one_line(business, f"business id {business!r}", business, "businesses")
            self.one_line(display, f"business {business!r}", business, "businesses")
        agents_data = data.get("agents")
        if not isinstance(agents_data, dict) or not agents_data:
            raise self.fail("the policy names no agents: add an [agents.NAME] table")
        approvers_data = data.get("approvers", {})
        self.unknown_keys(approvers_data, list(approvers_data), "approvers", "approver")
        approvers = {key: self.approver(key, value) for key, value in approvers_data.items()}
        agents = {key: self.agent(key, value, businesses) for key, value in agents_data.items()}
        self.unique_keys(agents, approvers)
        audit = data.get("audit", {})
        self.unknown_keys(audit, ("path",), "audit", "audit setting")
        self.strings(audit, "audit")
        audit_path = self.base / audit["path"] if audit.get("path") else None
        sage = dict(data.get("sage", {}))
        self.unknown_keys(sage, SAGE_KEYS, "sage", "sage setting")
        self.strings(sage, "sage")
        if sage.get("token_store"):
            sage["token_store"] = self.base / sage["token_store"]
        return Policy(agents, dict(businesses), audit_path, dict(sage), self.source, approvers)

    def strings(self, table: dict[str, Any], section: str) -> None:
        for key, value in table.items():
            if not isinstance(value, str):
                raise self.fail(f"[{section}] {key} must be a string, not {value!r}", key,
                                section)  # fmt: skip

    def one_line(self, value: Any, what: str, needle: str, section: str) -> str:
        """A name or display name: a string of printable characters (no newline, no escape)."""
        if not isinstance(value, str) or not value or not value.isprintable():
            raise self.fail(f"{what} must be one line of text, not {value!r}", needle, section)
        return value

    def approver(self, key: str, data: Any) -> Approver:
        section = f"approvers.{key}"
        self.one_line(key, f"approver name {key!r}", key, section)
        self.unknown_keys(data, APPROVER_KEYS, section, f"setting of approver {key!r}")
        name = self.one_line(data.get("name", key), f"name of approver {key!r}", "name", section)
        public_key = data.get("public_key")
        from .signing import valid_public_key

        if not isinstance(public_key, str) or not valid_public_key(public_key):
            raise self.fail(
                f"public_key of approver {key!r} must be the key `sage-accounting agents "
                f"approver-key` printed, not {public_key!r}", "public_key", section,
            )  # fmt: skip
        return Approver(key, name, public_key)

    def unique_keys(self, agents: Mapping[str, AgentPolicy],
                    approvers: Mapping[str, Approver]) -> None:  # fmt: skip
        """Two agents with one key hash would share a key (and the later one's tools); two
        approvers with one public key are one person."""
        seen: dict[str, str] = {}
        for agent in agents.values():
            if agent.key_sha256 is None:
                continue
            if agent.key_sha256 in seen:
                raise self.fail(
                    f"key_sha256 of agent {agent.key!r} is also agent {seen[agent.key_sha256]!r}'s:"
                    " each agent needs its own key", agent.key_sha256, f"agents.{agent.key}",
                )  # fmt: skip
            seen[agent.key_sha256] = agent.key
        public: dict[str, str] = {}
        for approver in approvers.values():
            if approver.public_key in public:
                raise self.fail(
                    f"public_key of approver {approver.key!r} is also approver "
                    f"{public[approver.public_key]!r}'s", approver.public_key,
                    f"approvers.{approver.key}",
                )  # fmt: skip
            public[approver.public_key] = approver.key

    def unknown_keys(self, table: Any, valid: Iterable[str], section: str, what: str) -> None:
        if not isinstance(table, dict):
            raise self.fail(f"[{section}] must be a table", section, section)
        for key in table:
            if key not in valid:
                raise self.fail(f"unknown {what} {key!r}{_did_you_mean(key, valid)}", key, section)

    def agent(self, key: str, data: Any, businesses: Mapping[str, str]) -> AgentPolicy:
        section = f"agents.{key}"
        self.one_line(key, f"agent name {key!r}", key, section)
        self.unknown_keys(data, AGENT_KEYS, section, f"setting of agent {key!r}")
        name = self.one_line(data.get("name", key), f"name of agent {key!r}", "name", section)
        chosen = data.get("businesses", "all")
        if chosen == "all":
            allowed_businesses = None
        elif isinstance(chosen, list) and chosen and all(isinstance(b, str) for b in chosen):
            for business in chosen:
                if business not in businesses:
                    raise self.fail(
                        f"agent {key!r} names unknown business {business!r}"
                        f"{_did_you_mean(business, businesses)} (list it under [businesses])",
                        business, section,
                    )  # fmt: skip
            allowed_businesses = tuple(chosen)
        else:
            raise self.fail(
                f"businesses of agent {key!r} must be \"all\" or a list of ids", "businesses",
                section,
            )  # fmt: skip
        areas = data.get("areas", {})
        self.unknown_keys(areas, levels.AREAS, f"{section}.areas", "area")
        for area, level in areas.items():
            if level not in levels.LEVELS:
                raise self.fail(
                    f"area {area!r} of agent {key!r} has level {level!r}; use one of "
                    f"{', '.join(levels.LEVELS)}{_did_you_mean(str(level), levels.LEVELS)}",
                    str(level), section,
                )  # fmt: skip
        allow = self.names(data.get("allow", []), "allow", section)
        deny = self.names(data.get("deny", []), "deny", section)
        budget = data.get("budget", {})
        self.unknown_keys(budget, ("per_minute", "per_day"), section, "budget")
        for limit in budget.values():
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
                raise self.fail("budgets are whole numbers of calls", "budget", section)
        approval = data.get("approval", {})
        self.unknown_keys(approval, ("areas", "over_amount"), section, "approval setting")
        approval_areas = approval.get("areas", [])
        if not isinstance(approval_areas, list):
            raise self.fail(f"approval areas of agent {key!r} must be a list of areas, not "
                            f"{approval_areas!r}", "approval", section)  # fmt: skip
        for area in approval_areas:
            if area not in levels.AREAS:
                raise self.fail(
                    f"approval names unknown area {area!r}{_did_you_mean(area, levels.AREAS)}",
                    area, section,
                )  # fmt: skip
        over_amount = self.amount(approval.get("over_amount"), key, section)
        tools = data.get("tools")
        if tools is not None:
            if not isinstance(tools, list):
                raise self.fail(f"tools of agent {key!r} must be a list of resources, not "
                                f"{tools!r}", "tools", section)  # fmt: skip
            for resource in tools:
                if resource not in self.resources:
                    raise self.fail(
                        f"tools names unknown resource {resource!r}"
                        f"{_did_you_mean(resource, self.resources)}", resource, section,
                    )  # fmt: skip
        key_sha256 = data.get("key_sha256")
        if key_sha256 is not None and (
            not isinstance(key_sha256, str) or not SHA256_HEX.fullmatch(key_sha256)
        ):
            raise self.fail(
                f"key_sha256 of agent {key!r} must be 64 lowercase hex digits (the line "
                f"`sage-accounting agents key` prints), not {key_sha256!r}", "key_sha256",
                section,
            )  # fmt: skip
        meta_tools = data.get("meta_tools", True)
        if not isinstance(meta_tools, bool):
            raise self.fail(f"meta_tools of agent {key!r} must be true or false (unquoted), not "
                            f"{meta_tools!r}", "meta_tools", section)  # fmt: skip
        return AgentPolicy(
            key=key,
            name=name,
            businesses=allowed_businesses,
            areas=dict(areas),
            allow=allow,
            deny=deny,
            per_minute=budget.get("per_minute"),
            per_day=budget.get("per_day"),
            approval_areas=frozenset(approval_areas),
            approval_over=over_amount,
            key_sha256=key_sha256,
            tools=tuple(tools) if tools is not None else None,
            meta_tools=meta_tools,
        )

    def amount(self, over: Any, key: str, section: str) -> Decimal | None:
        """``over_amount``: a finite, positive amount, written as a string or a whole number."""
        if over is None:
            return None
        if isinstance(over, float):
            raise self.fail(f"over_amount {over!r}: write it as a string (\"{over}\"), so that "
                            "it is exact", "over_amount", section)  # fmt: skip
        if isinstance(over, bool) or not isinstance(over, (str, int)):
            raise self.fail(f"over_amount {over!r} is not an amount", "over_amount", section)
        try:
            amount = Decimal(str(over).strip())
        except InvalidOperation:
            raise self.fail(
                f"over_amount {over!r} is not an amount", "over_amount", section
            ) from None
        if not amount.is_finite():
            raise self.fail(f"over_amount {over!r} must be finite", "over_amount", section)
        if amount <= 0:
            raise self.fail(f"over_amount {over!r} must be positive", "over_amount", section)
        return amount

    def names(self, values: Any, setting: str, section: str) -> tuple[str, ...]:
        """Override names: ``resource.method`` as users call it, or a whole ``resource``."""
        if not isinstance(values, list):
            raise self.fail(f"{setting} is a list of names", setting, section)
        for value in values:
            if not isinstance(value, str):
                raise self.fail(f"{setting} names unknown value {value!r}: names are strings",
                                setting, section)  # fmt: skip
            valid = self.methods if "." in str(value) else self.resources
            if value not in valid:
                raise self.fail(
                    f"{setting} names unknown {'method' if '.' in str(value) else 'resource'} "
                    f"{value!r}{_did_you_mean(str(value), valid)}", str(value), section,
                )  # fmt: skip
        return tuple(values)


def _did_you_mean(name: str, valid: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(valid), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
