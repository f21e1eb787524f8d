"""Hardening: argument and configuration checks the adversary found missing (one test per fault,
each failing before its fix). Argument errors are raised before any HTTP call."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sage_accounting import (
    ArgumentValueError,
    AsyncSageAccounting,
    SageAccounting,
    UntrustedURLError,
)

TOKEN = "harden-test-token-0123456789"


def never_called(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"no HTTP call expected, got {request.url}")


# -- 1. base_url: https, or http on loopback only; no userinfo; parsable; checked at construction --


@pytest.mark.parametrize(
    ("url", "cause"),
    [
        ("http://api.accounting.sage.com/v3.1", "https"),
        ("https://api.accounting.sage.com@evil.example/v3.1", "user"),
        ("https://user:pw@api.accounting.sage.com/v3.1", "user"),
        ("http://[::1/v3.1", "not a URL"),
        ("api.accounting.sage.com/v3.1", "https"),
        ("ftp://api.accounting.sage.com/v3.1", "https"),
        ("https:///v3.1", "host"),
        ("https://api.accounting.sage.com/v3.1?x=1", "query"),
        ("not a url at all", "space"),
        ("not-a-url", "https"),
        ("https://api.accounting.sage.com/v3.1 ", "space"),
        ("https://api.accounting.sage.com:99999/v3.1", "port"),
        ("https://api.accounting.sage.com/v3.1/../v2", "dot segment"),
        ("https://api.accounting.sage.com/./v3.1", "dot segment"),
        ("", "empty"),  # an empty setting is not Sage's production API
    ],
)
@pytest.mark.parametrize("client_class", [SageAccounting, AsyncSageAccounting])
def test_a_base_url_that_would_leak_the_token_is_refused_at_construction(
    client_class: Any, url: str, cause: str
) -> None:
    with pytest.raises(ArgumentValueError, match=cause) as raised:
        client_class(access_token=TOKEN, base_url=url)
    assert raised.value.argument == "base_url"
    assert TOKEN not in str(raised.value)


def test_a_bad_sage_base_url_names_the_environment_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SAGE_BASE_URL", "http://api.accounting.sage.com/v3.1")
    with pytest.raises(ArgumentValueError, match="https") as raised:
        SageAccounting(access_token=TOKEN)
    assert raised.value.argument == "SAGE_BASE_URL"


@pytest.mark.parametrize(
    "url",
    [
        "https://api.accounting.sage.com/v3.1",
        "https://api.accounting.sage.com/v3.1/",
        "http://127.0.0.1:8123/v3.1",
        "http://localhost:8123/v3.1",
        "http://[::1]:8123/v3.1",
        "HTTPS://API.accounting.sage.com/v3.1",
    ],
)
def test_https_and_loopback_http_base_urls_are_accepted(url: str) -> None:
    client = SageAccounting(access_token=TOKEN, base_url=url)
    assert client.base_url == url.rstrip("/")


# -- 2. a $next carrying userinfo would make httpx send Basic auth: refused --------------------------


@pytest.mark.parametrize(
    "link",
    [
        "https://u:p@api.accounting.sage.com/v3.1/contacts?page=2",
        "https://u@api.accounting.sage.com/v3.1/contacts?page=2",
        "https://:p@api.accounting.sage.com/v3.1/contacts?page=2",
    ],
)
def test_a_next_link_with_userinfo_is_refused(make_client: Any, link: str) -> None:
    page = {"$items": [{"id": "a"}], "$total": 5, "$page": 1, "$next": link}
    client, rec = make_client(lambda r: httpx.Response(200, json=page), access_token=TOKEN)
    with pytest.raises(UntrustedURLError):
        list(client.contacts.list())
    assert len(rec.requests) == 1
    assert all(
        "authorization" not in r.headers or "Basic" not in r.headers["authorization"]
        for r in rec.requests
    )


# -- 3. a user httpx client with its own auth would replace the Bearer with Basic -----------------


@pytest.mark.parametrize("auth", [("user", "password"), httpx.BasicAuth("user", "password")])
def test_a_user_http_client_with_its_own_auth_is_refused(auth: Any) -> None:
    with httpx.Client(auth=auth) as http, pytest.raises(ArgumentValueError) as raised:
        SageAccounting(access_token=TOKEN, http_client=http)
    assert raised.value.argument == "http_client"
    assert "password" not in str(raised.value)


async def test_an_async_user_http_client_with_its_own_auth_is_refused() -> None:
    async with httpx.AsyncClient(auth=("user", "password")) as http:
        with pytest.raises(ArgumentValueError, match="auth"):
            AsyncSageAccounting(access_token=TOKEN, http_client=http)


def test_auth_set_on_the_user_http_client_later_never_replaces_the_bearer() -> None:
    page = {"$items": [], "$total": 0, "$page": 1, "$next": None}
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=page)

    with httpx.Client(transport=httpx.MockTransport(answer)) as http:
        client = SageAccounting(access_token=TOKEN, http_client=http)
        http.auth = ("user", "password")  # after construction, where no check can see it
        list(client.contacts.list())
    assert sent[0].headers["authorization"] == f"Bearer {TOKEN}"


# -- 4. timeout and max_retries checked before any HTTP call (client, copies and per call) ----------

BAD_TIMEOUTS = [-1, 0, "5", "abc", True, float("nan"), float("inf"), None, [5]]
BAD_RETRIES = [-1, "3", 2.0, True, None]


@pytest.mark.parametrize("timeout", BAD_TIMEOUTS)
def test_a_bad_timeout_is_refused(make_client: Any, timeout: Any) -> None:
    with pytest.raises(ArgumentValueError) as raised:
        SageAccounting(access_token=TOKEN, timeout=timeout)
    assert raised.value.argument == "timeout"
    client, rec = make_client(never_called)
    if timeout is not None:  # with_options(timeout=None) keeps the client's
        with pytest.raises(ArgumentValueError, match="timeout"):
            client.with_options(timeout=timeout)
    with pytest.raises(ArgumentValueError, match="timeout"):
        client.contacts.get("c1", timeout=timeout)
    assert rec.requests == []


@pytest.mark.parametrize("retries", BAD_RETRIES)
def test_a_bad_max_retries_is_refused(make_client: Any, retries: Any) -> None:
    with pytest.raises(ArgumentValueError) as raised:
        AsyncSageAccounting(access_token=TOKEN, max_retries=retries)
    assert raised.value.argument == "max_retries"
    client, rec = make_client(never_called)
    if retries is not None:
        with pytest.raises(ArgumentValueError, match="max_retries"):
            client.with_options(max_retries=retries)
    with pytest.raises(ArgumentValueError, match="max_retries"):
        client.contacts.get("c1", max_retries=retries)
    assert rec.requests == []


def test_good_timeouts_and_retries_are_kept(make_client: Any) -> None:
    record = {"id": "c1"}
    client, rec = make_client(lambda r: httpx.Response(200, json=record))
    assert client.with_options(timeout=2, max_retries=0).contacts.get("c1").id == "c1"
    client.contacts.get("c1", timeout=httpx.Timeout(None), max_retries=5)
    client.contacts.get("c1", timeout=0.5)
    assert rec.requests[-1].extensions["timeout"]["read"] == 0.5


# -- 5. a URL too long for httpx, and a token no header can carry: typed, before any HTTP call ----


def test_a_query_too_long_for_a_url_is_refused_before_any_call(make_client: Any) -> None:
    client, rec = make_client(never_called)
    with pytest.raises(ArgumentValueError, match="too long") as raised:
        client.contacts.list(search="x" * 100_000).first_page()
    assert raised.value.argument == "search"
    assert "100" in str(raised.value)  # the length it came to
    assert rec.requests == []


@pytest.mark.parametrize("token", ["abc-token\n-injected", "abc\rtoken-12345", "tökén-12345678"])
def test_an_access_token_no_header_can_carry_is_refused_at_construction(token: str) -> None:
    with pytest.raises(ArgumentValueError) as raised:
        SageAccounting(access_token=token)
    assert raised.value.argument == "access_token"
    assert token not in str(raised.value)


def test_a_stored_access_token_no_header_can_carry_is_a_store_error(tmp_path: Any) -> None:
    import json

    from sage_accounting import FileTokenStore, TokenStoreError

    path = tmp_path / "tokens.json"
    path.write_text(json.dumps({"access_token": "secret-access\nX-Evil: 1", "expires_at": 0}))
    with pytest.raises(TokenStoreError, match="access_token") as raised:
        FileTokenStore(path).load()
    assert "secret-access" not in str(raised.value)


def test_a_sessions_token_no_header_can_carry_is_a_typed_error(
    fake_sage: Any, oauth_app: Any
) -> None:
    from sage_accounting import OAuthError, OAuthSession, TokenSet

    tokens = TokenSet("session-token\r\nX-Evil: 1", "refresh-1234567890", expires_at=4e9)
    session = OAuthSession(oauth_app, tokens=tokens)
    with SageAccounting(session=session, base_url=fake_sage.base_url) as client:
        with pytest.raises(OAuthError, match="printable ASCII") as raised:
            client.contacts.list().first_page()
    assert "session-token" not in str(raised.value)


# -- 6. redaction must not eat ordinary text after "access_token=" ------------------------------------


def test_the_missing_credentials_message_reads_right() -> None:
    from sage_accounting import ArgumentTypeError

    with pytest.raises(ArgumentTypeError) as raised:
        SageAccounting()
    assert "pass either access_token= (a bare token, or SAGE_ACCESS_TOKEN" in str(raised.value)
    assert "REDACTED" not in str(raised.value)


@pytest.mark.parametrize(
    "text",
    [
        "access_token=abcdef123456",
        "access_token= abcdef123456",
        'password: "abcdef123456"',
        "refresh_token:abcdef123456",
        "Bearer abcdef123456",
    ],
)
def test_credential_shaped_values_are_still_redacted(text: str) -> None:
    from sage_accounting._runtime._redact import redact

    assert "abcdef123456" not in redact(text)
    assert "[REDACTED]" in redact(text)


def test_a_secret_with_a_bracket_inside_is_redacted_whole() -> None:
    from sage_accounting._runtime._redact import redact

    assert redact("password=abc(def)ghi rest") == "password=[REDACTED] rest"


# -- 7. a garbage app.json: one line naming the file and the fault, the CLI's login exit code ------


@pytest.mark.parametrize(
    ("content", "fault"),
    [
        ("[]", "not a JSON object"),
        ('"text"', "not a JSON object"),
        ("{}", "client_id"),
        ('{"client_id": 5, "client_secret": "s", "redirect_uri": "u"}', "client_id"),
        (
            '{"client_id": "c", "client_secret": "s", "redirect_uri": "u", "base_url": 7}',
            "base_url",
        ),
        ("{not json", "JSON"),
        ("\xff\xfe", "UTF-8"),
    ],
)
@pytest.mark.parametrize("with_token", [False, True])
def test_a_garbage_app_json_is_one_error_line(
    tmp_path: Any, content: str, fault: str, with_token: bool
) -> None:
    from cli_support import one_error_line, run

    from sage_accounting.cli.exit_codes import EXIT_AUTH

    (tmp_path / "app.json").write_bytes(content.encode("latin-1"))
    (tmp_path / "tokens.json").write_text("{}")
    env = {"SAGE_CONFIG_DIR": str(tmp_path), "SAGE_BASE_URL": "http://127.0.0.1:9/v3.1"}
    if with_token:
        env["SAGE_ACCESS_TOKEN"] = TOKEN
    result = run("list", "contacts", env=env)
    assert result.exit_code == EXIT_AUTH, result.output
    line = one_error_line(result)
    assert str(tmp_path / "app.json") in line and fault in line


# -- 8. the [scale] and [sync] extras: typed errors for an unreachable store and a missing extra --


@pytest.mark.parametrize("database", ["postgresql+psycopg", "postgresql"])
def test_an_unreachable_sql_token_store_is_a_token_store_error(database: str) -> None:
    from servers import free_port

    from sage_accounting import TokenStoreError
    from sage_accounting.scale import SQLTokenStore

    url = f"{database}://sage:hunter2-secret@127.0.0.1:{free_port()}/tokens"
    # The store makes its tables on first use (a worker may start while the database is away),
    # so the first use is where an unreachable database is met: as a TokenStoreError.
    store = SQLTokenStore(url, "user-1")
    with pytest.raises(TokenStoreError, match="cannot") as raised:
        store.load()
    assert "127.0.0.1" in str(raised.value) and "hunter2-secret" not in str(raised.value)


# A subprocess where some modules cannot be imported, as in an installation without the extra.
_HIDING = """
import sys
from importlib.abc import MetaPathFinder

class Hide(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {hidden!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, Hide())
from sage_accounting import MissingExtraError, SageError
try:
{body}
except MissingExtraError as exc:
    assert isinstance(exc, SageError) and isinstance(exc, ImportError)
    print("MissingExtraError", exc.extra, exc.module, "|", exc)
"""


def run_hiding(hidden: set[str], body: str) -> str:
    import subprocess
    import sys
    import textwrap

    code = _HIDING.format(hidden=hidden, body=textwrap.indent(body, "    "))
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize("hidden", ["cryptography", "redis", "sqlalchemy"])
def test_scale_without_its_extra_names_the_extra(hidden: str) -> None:
    out = run_hiding({hidden}, "import sage_accounting.scale")
    assert out.startswith(f"MissingExtraError scale {hidden} |"), out
    assert "pip install 'sage-accounting[scale]'" in out


def test_sync_without_its_extra_names_the_extra(tmp_path: Any) -> None:
    body = (
        "import sage_accounting.sync as s\n"
        "from sage_accounting import SageAccounting\n"
        f"c = SageAccounting(access_token='t-0123456789', base_url='http://127.0.0.1:9/v3.1')\n"
        f"s.sync(c, to={str(tmp_path / 'books.duckdb')!r}, businesses='b1', progress=False)"
    )
    out = run_hiding({"dlt", "duckdb"}, body)
    assert out.startswith("MissingExtraError sync dlt |"), out
    assert "pip install 'sage-accounting[sync]'" in out


def test_the_cli_reports_a_missing_extra_with_its_exit_code() -> None:
    from sage_accounting import MissingExtraError
    from sage_accounting.cli._errors import from_sage_error
    from sage_accounting.cli.exit_codes import EXIT_MISSING_EXTRA

    error = from_sage_error(MissingExtraError("sage_accounting.sync", "sync", "dlt"))
    assert error.exit_code == EXIT_MISSING_EXTRA
    assert "sage-accounting[sync]" in error.message


# -- 9. the sandbox answers a bad body as Sage does, never with a traceback or a dropped socket ---


def raw_post(sandbox: Any, path: str, head: str, body: bytes = b"") -> tuple[int, bytes]:
    """A request written by hand (httpx would not send a wrong Content-Length)."""
    import socket

    url = httpx.URL(sandbox.base_url)
    token = sandbox.issue_tokens(expires_in=3600)["access_token"]
    request = (
        f"POST {url.path}{path} HTTP/1.1\r\nHost: {url.host}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\n{head}Connection: close\r\n\r\n"
    ).encode() + body
    with socket.create_connection((url.host, url.port), timeout=10) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer, "the connection was dropped without an answer"
    status = int(answer.split(b" ", 2)[1])
    return status, answer.split(b"\r\n\r\n", 1)[1]


@pytest.mark.parametrize(
    ("length", "status"),
    [("abc", 400), ("-5", 400), ("1e3", 400), (str(10**18), 413), ("", 400)],
)
def test_a_bad_content_length_is_answered(fake_sage: Any, length: str, status: int) -> None:
    import json

    got, body = raw_post(fake_sage, "/contacts", f"Content-Length: {length}\r\n", b"{}")
    assert got == status
    assert set(json.loads(body)[0]) == {"$severity", "$dataCode", "$message", "$source"}


def test_deeply_nested_json_is_a_bad_request(fake_sage: Any) -> None:
    body = b'{"contact": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    status, _ = raw_post(fake_sage, "/contacts", f"Content-Length: {len(body)}\r\n", body)
    assert status == 400


@pytest.mark.parametrize(
    ("resource", "body", "sources"),
    [
        ("contacts", {"contact": {"name": 5, "contact_type_ids": ["CUSTOMER"]}}, {"name"}),
        (
            "contacts",
            {"contact": {"name": "A", "contact_type_ids": ["CUSTOMER"], "credit_limit": "abc"}},
            {"credit_limit"},
        ),
        (
            "sales_invoices",
            {"sales_invoice": {"contact_id": "c", "date": "2026-13-45", "invoice_lines": "no"}},
            {"date", "invoice_lines"},
        ),
    ],
)
def test_a_record_with_wrong_types_is_refused_with_sages_errors(
    fake_sage: Any, resource: str, body: dict[str, Any], sources: set[str]
) -> None:
    token = fake_sage.issue_tokens(expires_in=3600)["access_token"]
    answer = httpx.post(
        f"{fake_sage.base_url}/{resource}", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 422, answer.text
    errors = answer.json()
    assert {e["$source"] for e in errors} == sources
    assert {e["$dataCode"] for e in errors} == {"RecordInvalid"}
    assert fake_sage.state.records[(fake_sage.state.lead_business, resource)] == {}


# -- 10. a refresh_margin as long as the token's life must not refresh on every call --------------


@pytest.mark.parametrize("margin", [400.0, 300.0, 1e6])
def test_a_refresh_margin_longer_than_the_tokens_life_refreshes_once(
    fake_sage: Any, oauth_app: Any, margin: float
) -> None:
    from sage_accounting import OAuthSession, TokenSet

    pair = TokenSet.from_response(fake_sage.issue_tokens(), fake_sage.clock.now())  # 300 s
    session = OAuthSession(oauth_app, tokens=pair, refresh_margin=margin)
    with SageAccounting(session=session, base_url=fake_sage.base_url) as client:
        for _ in range(10):
            client.contacts.list().first_page()
            fake_sage.clock.advance(5)
    assert fake_sage.count("refresh") == 1  # the first token was within the margin; no more


def test_the_capped_margin_still_refreshes_before_expiry(fake_sage: Any, oauth_app: Any) -> None:
    from sage_accounting import OAuthSession, TokenSet

    pair = TokenSet.from_response(fake_sage.issue_tokens(), fake_sage.clock.now())
    session = OAuthSession(oauth_app, tokens=pair, refresh_margin=400)
    with SageAccounting(session=session, base_url=fake_sage.base_url) as client:
        client.contacts.list().first_page()  # refreshes: 300 s left < 400
        fake_sage.clock.advance(160)  # 140 s left: under half the life
        client.contacts.list().first_page()
    assert fake_sage.count("refresh") == 2


def test_an_unreachable_sql_quota_backend_is_a_quota_backend_error() -> None:
    from servers import free_port

    from sage_accounting import Quota, QuotaBackendError
    from sage_accounting.scale import SQLQuotaBackend

    url = f"postgresql+psycopg://sage:hunter2-secret@127.0.0.1:{free_port()}/quota"
    # Its tables are made on first use, where an unreachable database is met.
    quota = Quota(SQLQuotaBackend(url))
    with pytest.raises(QuotaBackendError, match="cannot") as raised:
        quota.status("app", "business", None)
    assert "127.0.0.1" in str(raised.value) and "hunter2-secret" not in str(raised.value)


@pytest.mark.parametrize(
    "url", ["not a url", "mysql://sage:hunter2-secret@127.0.0.1/db", "postgresql+nodriver://h/d"]
)
@pytest.mark.parametrize("store", ["SQLTokenStore", "SQLQuotaBackend"])
def test_a_sql_url_that_cannot_be_used_is_an_argument_error(store: str, url: str) -> None:
    import sage_accounting.scale

    with pytest.raises(ArgumentValueError) as raised:
        getattr(sage_accounting.scale, store)(url)
    assert raised.value.argument == "url" and "hunter2-secret" not in str(raised.value)


def test_an_update_with_wrong_types_is_refused_and_changes_nothing(fake_sage: Any) -> None:
    token = fake_sage.issue_tokens(expires_in=3600)["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    made = httpx.post(
        f"{fake_sage.base_url}/contacts",
        json={"contact": {"name": "Ann", "contact_type_ids": ["CUSTOMER"]}},
        headers=auth,
    ).json()
    answer = httpx.put(
        f"{fake_sage.base_url}/contacts/{made['id']}",
        json={"contact": {"name": 5, "credit_limit": "abc"}},
        headers=auth,
    )
    assert answer.status_code == 422, answer.text
    assert {e["$source"] for e in answer.json()} == {"name", "credit_limit"}
    again = httpx.get(f"{fake_sage.base_url}/contacts/{made['id']}", headers=auth).json()
    assert again["name"] == "Ann"


def test_an_update_whose_body_is_optional_in_its_model_is_checked_too(fake_sage: Any) -> None:
    token = fake_sage.issue_tokens(expires_in=3600)["access_token"]
    answer = httpx.put(
        f"{fake_sage.base_url}/user",
        json={"user": {"first_name": 5}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 422, answer.text
    assert [e["$source"] for e in answer.json()] == ["first_name"]
