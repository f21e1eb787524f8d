"""``SageSandbox``: the object a test or a developer holds; the server runs in a thread."""

from __future__ import annotations

import random
import threading
from typing import TYPE_CHECKING, Any

from .._runtime import wire
from . import _oauth, _records, _seed
from ._server import API_PREFIX, AUTHORIZE_PATH, REVOKE_PATH, TOKEN_PATH, SandboxServer
from ._state import (
    ROLES,
    Fault,
    Record,
    SandboxClock,
    SandboxLimits,
    State,
    timestamp,
)

if TYPE_CHECKING:
    from .. import AsyncSageAccounting, OAuthApp, SageAccounting
    from .._runtime import Quota

DEFAULT_BUSINESSES = ("biz-lead", "biz-second")


class SageSandbox:
    """A local Sage Accounting server on 127.0.0.1 serving every operation of the SDK.

    ``with SageSandbox() as sage: client = sage.client()`` gives a client of the lead business
    with a live token. ``demo_data=True`` fills each business with a small UK business (look-ups,
    ledger accounts, tax rates, contacts, products, invoices) from ``seed``; ``roles`` sets the
    user's role per area (``{"Sales": "Read Only"}``; unnamed areas are Full Access).
    ``access_token_seconds``: how long OAuth-issued access tokens live (Sage's 300 by default;
    a few seconds to exercise refreshing). ``limits``: Sage's limits enforced with 429s
    (``SandboxLimits``; off by default), which ``client()`` mirrors in its quota ledger.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        demo_data: bool = True,
        businesses: tuple[str, ...] = DEFAULT_BUSINESSES,
        roles: dict[str, str] | None = None,
        client_id: str = "sandbox-client-id",
        client_secret: str = "sandbox-client-secret",
        redirect_uri: str = "http://127.0.0.1/callback",
        access_token_seconds: int = 300,
        limits: SandboxLimits | None = None,
    ) -> None:
        if not businesses:
            raise ValueError("a sandbox needs at least one business")
        self.clock = SandboxClock()
        self.state = State(
            clock=self.clock,
            client_id=client_id,
            client_secret=client_secret,
            redirect_uri=redirect_uri,
            lead_business=businesses[0],
            businesses=list(businesses),
            rng=random.Random(seed),
            access_token_seconds=access_token_seconds,
            limits=limits or SandboxLimits(),
        )
        for area, role in (roles or {}).items():
            self.set_role(area, role)
        self._demo_data = demo_data
        self._server: SandboxServer | None = None
        self._thread: threading.Thread | None = None
        self._access_token: str | None = None
        with self.state.lock:
            self._populate()

    def _populate(self) -> None:
        state = self.state
        for index, business in enumerate(state.businesses):
            name = "Sandbox Joinery Ltd" if index == 0 else f"Sandbox Business {index + 1}"
            _records.create(state, _records.GLOBAL, "businesses", {"name": name}, business)
            if self._demo_data:
                _seed.seed_business(state, business)
        user = {"first_name": "Sam", "last_name": "Sandbox", "email": "sam@sandbox.example",
                "locale": "en-GB", "displayed_as": "Sam Sandbox"}  # fmt: skip
        record = _records.create(state, _records.GLOBAL, "user", user, "user-1")
        record[wire.RECORD_PATH] = "/user"
        users = state.records[(_records.GLOBAL, "user")]
        users["user"] = users.pop("user-1")  # a singleton: kept under its resource name

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self, port: int = 0) -> SageSandbox:
        """Listen on 127.0.0.1 (``port`` 0: any free one) and serve from a daemon thread."""
        if self._server is not None:
            raise RuntimeError("the sandbox is already running")
        self._server = SandboxServer(self.state, port)
        # A short poll interval: shutdown() waits up to one interval.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), name="sage-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and close every open connection (a client mid-call sees it drop)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server.drop_connections()
            self._server = None

    def __enter__(self) -> SageSandbox:
        return self.start() if self._server is None else self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # -- where it is ----------------------------------------------------------------------------

    @property
    def origin(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox is not running: call start() or use `with`")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def base_url(self) -> str:
        return self.origin + API_PREFIX

    @property
    def token_url(self) -> str:
        return self.origin + TOKEN_PATH

    @property
    def revoke_url(self) -> str:
        return self.origin + REVOKE_PATH

    @property
    def authorize_url(self) -> str:
        return self.origin + AUTHORIZE_PATH

    @property
    def lead_business(self) -> str:
        return self.state.lead_business

    # -- tokens and clients ---------------------------------------------------------------------

    def issue_tokens(
        self, scope: str = "full_access", *, expires_in: int | None = None
    ) -> dict[str, Any]:
        """A token response as if the user had just authorized the app (``access_token_seconds``
        unless ``expires_in`` says otherwise, e.g. for a long manual session)."""
        with self.state.lock:
            return _oauth.issue(self.state, scope, expires_in)

    @property
    def access_token(self) -> str:
        """A live access token (issued on first use; advancing the clock 5 minutes expires it)."""
        if self._access_token is None:
            self._access_token = str(self.issue_tokens()["access_token"])
        return self._access_token

    def quota(self, **kwargs: Any) -> Quota:
        """A quota ledger (in this process) with this sandbox's limits: none unless ``limits``
        was given (then the SDK's ledger keeps the client from meeting the sandbox's 429s)."""
        from .._runtime import Quota, QuotaLimits, RateLimit

        given = self.state.limits
        per_minute = given.business_per_minute
        limits = QuotaLimits(
            in_flight=given.in_flight,
            app_per_day=given.app_per_day,
            business_rate=RateLimit(per_minute, per=60) if per_minute else None,
            business_per_day=given.business_per_day,
        )
        return Quota(limits=limits, **kwargs)

    def client(self, **kwargs: Any) -> SageAccounting:
        """A ``SageAccounting`` for this sandbox (the lead business unless ``business_id=``),
        counting against ``quota()`` unless ``quota=`` says otherwise."""
        from .. import SageAccounting

        if not {"quota", "max_in_flight", "rate_limit"} & kwargs.keys():
            kwargs["quota"] = self.quota()
        kwargs.setdefault("base_url", self.base_url)
        if "session" not in kwargs:
            kwargs.setdefault("access_token", self.access_token)
        return SageAccounting(**kwargs)

    def async_client(self, **kwargs: Any) -> AsyncSageAccounting:
        from .. import AsyncSageAccounting

        if not {"quota", "max_in_flight", "rate_limit"} & kwargs.keys():
            kwargs["quota"] = self.quota()
        kwargs.setdefault("base_url", self.base_url)
        if "session" not in kwargs:
            kwargs.setdefault("access_token", self.access_token)
        return AsyncSageAccounting(**kwargs)

    def oauth_app(self, **kwargs: Any) -> OAuthApp:
        """An ``OAuthApp`` registered with this sandbox, on its clock."""
        from .. import OAuthApp

        kwargs.setdefault("authorize_url", self.authorize_url)
        kwargs.setdefault("token_url", self.token_url)
        kwargs.setdefault("revoke_url", self.revoke_url)
        kwargs.setdefault("clock", self.clock.now)
        state = self.state
        return OAuthApp(state.client_id, state.client_secret, state.redirect_uri, **kwargs)

    # -- controlling it ---------------------------------------------------------------------------

    def inject(self, *faults: Fault) -> None:
        """Fail matching requests instead of (or after) answering them; see ``Fault``."""
        with self.state.lock:
            self.state.faults.extend(faults)

    def clear_faults(self) -> None:
        with self.state.lock:
            self.state.faults.clear()

    def set_role(self, area: str, role: str) -> None:
        """The user's role in an area (``"Sales"``, ``"Read Only"``)."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        with self.state.lock:
            self.state.roles[area] = role

    # -- looking inside ---------------------------------------------------------------------------

    def count(self, what: str) -> int:
        """How many requests of a kind arrived: "refresh", "exchange", "GET /contacts", ..."""
        with self.state.lock:
            return self.state.counts[what]

    def records(self, resource: str, business: str | None = None) -> dict[str, Record]:
        """A business's records of a resource by id, deleted ones included (``deleted_at``)."""
        with self.state.lock:
            return dict(self.state.records[(business or self.state.lead_business, resource)])

    def seed(
        self, resource: str, count: int, business: str | None = None, **fields: Any
    ) -> list[str]:
        """Create ``count`` records directly (no HTTP); returns their ids."""
        business = business or self.state.lead_business
        with self.state.lock:
            return [
                _records.create(
                    self.state, business, resource, {"name": f"{business} {resource} {i}", **fields}
                )["id"]
                for i in range(count)
            ]

    def delete_record(self, resource: str, record_id: str, business: str | None = None) -> None:
        """Delete a record as the web app would (it shows up in ``deleted_since``)."""
        with self.state.lock:
            record = self.state.records[(business or self.state.lead_business, resource)][record_id]
            record["deleted_at"] = timestamp(self.state.clock.now())
