"""Shared fixtures: the real spec (fetched by `make spec`), its IR, and mock-transport clients."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from module_fixture import ModuleFolder, build_module_folder

from sage_codegen.ir import Api
from sage_codegen.ir_build import build_api
from sage_codegen.loader import LoadedSpec, load_spec
from sage_codegen.spec_lock import read_lock, verify

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _no_sage_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK reads SAGE_* variables when arguments are absent: a developer's own exported
    token or business must not change what the tests see (tests that need one set it)."""
    import os

    for name in [n for n in os.environ if n.startswith("SAGE_")]:
        monkeypatch.delenv(name)


SPEC_DIR = ROOT / "spec"
HISTORY_DIR = ROOT.parent / "shared" / "spec" / "history" / "2022-05"


def document_holding(path: str) -> str:
    """The name of the locked document that defines ``path``: tests find documents by content,
    whatever names and however many documents Sage publishes."""
    for doc in read_lock(SPEC_DIR / "spec.lock.json"):
        data = json.loads((SPEC_DIR / doc.name).read_text(encoding="utf-8"))
        if path in data.get("paths", {}):
            return doc.name
    raise LookupError(f"no locked document defines {path}")


ACCOUNTS = document_holding("/contacts")  # the core API (today: accounts.swagger.json)
USER_ACCOUNTS = document_holding("/businesses")  # /businesses and /user


@pytest.fixture(scope="session")
def spec_paths() -> list[Path]:
    return verify(SPEC_DIR, read_lock(SPEC_DIR / "spec.lock.json"))


@pytest.fixture(scope="session")
def loaded_spec(spec_paths: list[Path]) -> LoadedSpec:
    return load_spec(spec_paths)


@pytest.fixture(scope="session")
def api(loaded_spec: LoadedSpec) -> Api:
    return build_api(loaded_spec)


@pytest.fixture(scope="session")
def _raw_documents(spec_paths: list[Path]) -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text(encoding="utf-8")) for p in spec_paths}


@pytest.fixture(scope="session")
def module_folder(
    tmp_path_factory: pytest.TempPathFactory, _raw_documents: dict[str, dict[str, Any]]
) -> ModuleFolder:
    """The current spec as Sage publishes it today: module documents, with the ten faults."""
    return build_module_folder(
        tmp_path_factory.mktemp("modules"), _raw_documents[ACCOUNTS], _raw_documents[USER_ACCOUNTS]
    )


@pytest.fixture
def raw_documents(_raw_documents: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Private copies of the real documents, for tests that mutate them."""
    return copy.deepcopy(_raw_documents)


def write_spec_dir(
    directory: Path, documents: dict[str, Any], raw: dict[str, str] | None = None
) -> Path:
    """A spec directory (documents + a lock naming them) as `make spec` would leave it."""
    directory.mkdir(parents=True, exist_ok=True)
    entries = []
    for name, doc in documents.items():
        text = (raw or {}).get(name) or json.dumps(doc, ensure_ascii=False)
        (directory / name).write_text(text, encoding="utf-8")
        entries.append({"name": name, "sha256": hashlib.sha256(text.encode()).hexdigest()})
    (directory / "spec.lock.json").write_text(json.dumps({"documents": entries}), encoding="utf-8")
    return directory


Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A mock transport that records requests and answers with ``handler``."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)


@pytest.fixture
def make_client() -> Iterator[Callable[..., Any]]:
    """make_client(handler, **client_kwargs) -> (SageAccounting, Recorder)."""
    from sage_accounting import SageAccounting

    clients: list[Any] = []

    def make(handler: Handler, **kwargs: Any) -> tuple[Any, Recorder]:
        recorder = Recorder(handler)
        kwargs.setdefault("access_token", "test-token")
        http = httpx.Client(transport=httpx.MockTransport(recorder))
        client = SageAccounting(http_client=http, **kwargs)
        clients.append(http)
        return client, recorder

    yield make
    for http in clients:
        http.close()


@pytest.fixture
def fake_sage() -> Iterator[Any]:
    """An empty Sage sandbox on 127.0.0.1, new for each test (the name predates the sandbox:
    tests seed exactly the records they count)."""
    from sage_accounting.testing import SageSandbox

    with SageSandbox(demo_data=False) as server:
        yield server


@pytest.fixture
def oauth_app(fake_sage: Any) -> Any:
    from sage_accounting import OAuthApp

    return OAuthApp(
        fake_sage.state.client_id,
        fake_sage.state.client_secret,
        fake_sage.state.redirect_uri,
        authorize_url=fake_sage.authorize_url,
        token_url=fake_sage.token_url,
        revoke_url=fake_sage.revoke_url,
        timeout=5.0,
        clock=fake_sage.clock.now,
    )


@pytest.fixture
def session(fake_sage: Any, oauth_app: Any) -> Any:
    """A session holding a freshly issued pair, in memory."""
    from sage_accounting import OAuthSession, TokenSet

    tokens = TokenSet.from_response(fake_sage.issue_tokens(), fake_sage.clock.now())
    return OAuthSession(oauth_app, tokens=tokens)


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries wait milliseconds, not seconds (the policy itself is tested with a mock clock)."""
    from sage_accounting._runtime import _retry

    monkeypatch.setattr(_retry, "INITIAL_BACKOFF", 0.001)
    monkeypatch.setattr(_retry, "MAX_BACKOFF", 0.01)


@pytest.fixture
def make_async_client() -> Callable[..., Any]:
    from sage_accounting import AsyncSageAccounting

    def make(handler: Handler, **kwargs: Any) -> tuple[Any, Recorder]:
        recorder = Recorder(handler)
        kwargs.setdefault("access_token", "test-token")
        http = httpx.AsyncClient(transport=httpx.MockTransport(recorder))
        return AsyncSageAccounting(http_client=http, **kwargs), recorder

    return make


# -- real servers (tests/servers.py): one each per session, started on first use ---------------------


@pytest.fixture(scope="session")
def redis_server() -> Iterator[Any]:
    from servers import RedisServer

    server = RedisServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Any]:
    from servers import PostgresServer

    server = PostgresServer()
    yield server
    server.close()


@pytest.fixture
def redis_url(redis_server: Any) -> str:
    """The session's Redis with nothing in it."""
    import redis

    redis.Redis.from_url(redis_server.url).flushall()
    return str(redis_server.url)


@pytest.fixture
def postgres_url(postgres_server: Any) -> str:
    """A fresh database on the session's PostgreSQL."""
    return str(postgres_server.new_database())
