"""The shared stores' URLs as a careless user gives them (``agents mcp``/``sync`` ``--tokens``,
``--quota``, ``--budgets``, and the classes of ``sage_accounting.scale``): a password never shown,
wherever the URL puts it; a URL that names no shared store refused before serving, one line, the
usage exit code; the Fernet key in SAGE_TOKENS_KEY checked the same way."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_agents_shared import policy_on

from sage_accounting import ArgumentValueError
from sage_accounting.scale import (
    RedisQuotaBackend,
    RedisTokenStore,
    SQLQuotaBackend,
    SQLTokenStore,
    TokenCipher,
    quota_backend_at,
)

PASSWORD = "hunter2-secret"


def serve(fake_sage: Any, tmp_path: Path, *options: str, env: dict[str, str] | None = None) -> Any:
    """``python -m sage_accounting.agents mcp --http`` with ``options``, as a user runs it."""
    policy = policy_on(fake_sage, tmp_path / "policy")
    return subprocess.run(
        [sys.executable, "-m", "sage_accounting.agents", "mcp", "--policy", str(policy),
         "--http", "--port", "0", *options],
        env={**os.environ, "SAGE_CLIENT_SECRET": "s", **(env or {})}, capture_output=True,
        text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip


@pytest.mark.parametrize(
    "make",
    [
        lambda: RedisTokenStore(f"redis://127.0.0.1:1/0?password={PASSWORD}", "g"),
        lambda: RedisQuotaBackend(f"redis://127.0.0.1:1/0?password={PASSWORD}"),
        lambda: RedisTokenStore(f"redis://user:{PASSWORD}@127.0.0.1:1/0", "g"),
        lambda: SQLTokenStore(f"postgresql+psycopg://u@127.0.0.1:1/db?password={PASSWORD}", "g"),
        lambda: SQLQuotaBackend(f"postgresql+psycopg://u@127.0.0.1:1/db?password={PASSWORD}"),
    ],
)
def test_a_password_in_a_store_url_is_never_in_its_repr(make: Any) -> None:
    """redis-py and libpq both take the password from the query (``?password=``) as well."""
    shown = repr(make())
    assert PASSWORD not in shown and "127.0.0.1:1" in shown, shown


def test_a_redis_store_shows_the_database_it_uses() -> None:
    """``?db=3`` is the database redis-py picks, whatever the path says: the one shown."""
    assert "127.0.0.1:1/3" in repr(RedisQuotaBackend("redis://127.0.0.1:1/0?db=3"))


@pytest.mark.parametrize(
    "url",
    [
        f"redis://:{PASSWORD}@127.0.0.1:notaport/0",
        f"redis://:{PASSWORD}@[::1/0",
        "redis://127.0.0.1:6379/0?socket_timeout=abc",
        "redis://127.0.0.1:6379/notadb",  # redis-py: silently database 0
        "redis://127.0.0.1:6379/1/2",  # redis-py: silently database 12
        "redis://:pa/ss@127.0.0.1/0",  # a password with a / in it, not quoted
    ],
)
def test_a_malformed_redis_url_is_an_argument_error_that_shows_no_password(url: str) -> None:
    for make in (lambda: RedisTokenStore(url, "g"), lambda: RedisQuotaBackend(url)):
        with pytest.raises(ArgumentValueError) as raised:
            make()
        assert PASSWORD not in str(raised.value) and "pa/ss" not in str(raised.value)
        assert isinstance(raised.value, ValueError)  # as before


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "sqlite:///file:x?mode=memory"])
def test_an_in_memory_sqlite_database_is_refused_as_a_shared_store(url: str) -> None:
    """Nothing shares it: not another server, not even this server's other threads (SQLAlchemy
    gives each thread its own in-memory database, so the ledger's tables vanish)."""
    with pytest.raises(ArgumentValueError, match="in memory"):
        quota_backend_at(url, "--budgets")


def test_an_in_memory_sqlite_ledger_is_what_it_would_be_per_thread() -> None:
    """Why: the same backend object, on another thread, sees no tables at all (an engine
    given is the caller's own choice, still taken)."""
    from sqlalchemy import create_engine

    backend = SQLQuotaBackend(engine=create_engine("sqlite://"))
    backend._tables.ensure()
    seen: list[Any] = []

    def count_tables() -> None:
        with backend.engine.begin() as connection:
            seen.append(connection.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar())

    count_tables()
    thread = threading.Thread(target=count_tables)
    thread.start()
    thread.join()
    assert seen[0] > 0 and seen[1] == 0


@pytest.mark.parametrize(
    ("option", "url"),
    [
        ("--tokens", f"redis://:{PASSWORD}@127.0.0.1:notaport/0"),
        ("--quota", f"redis://:{PASSWORD}@[::1/0"),
        ("--budgets", "redis://127.0.0.1:6379/0?socket_timeout=abc"),
        ("--budgets", "sqlite://"),
    ],
)
def test_a_malformed_store_url_is_one_usage_line_before_serving(
    fake_sage: Any, tmp_path: Path, option: str, url: str
) -> None:
    done = serve(fake_sage, tmp_path, option, url)
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error: ") and f"Invalid value for {option}" in line, line
    assert PASSWORD not in done.stderr and "serving MCP" not in done.stdout


@pytest.mark.parametrize("key", ["not-a-fernet-key", "x" * 44])
def test_a_wrong_fernet_key_is_one_usage_line_naming_its_variable(
    fake_sage: Any, tmp_path: Path, redis_url: str, key: str
) -> None:
    done = serve(fake_sage, tmp_path, "--tokens", redis_url, env={"SAGE_TOKENS_KEY": key})
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert "SAGE_TOKENS_KEY" in line and "Traceback" not in done.stderr, line
    assert key not in done.stderr


def test_a_cipher_key_that_is_none_is_an_argument_error() -> None:
    with pytest.raises(ArgumentValueError, match="generate_key"):
        TokenCipher("not a key")
    with pytest.raises(ArgumentValueError, match="at least one key"):
        TokenCipher([])


@pytest.fixture
def redis_with_password() -> Iterator[str]:
    """A Redis that asks for PASSWORD (the session's Redis asks for none); its URL without it."""
    from servers import RedisServer

    server = RedisServer(password=PASSWORD)
    yield server.url.replace(f":{PASSWORD}@", "")
    server.close()


def test_an_empty_grant_behind_a_password_in_the_query_shows_no_password(
    fake_sage: Any, tmp_path: Path, redis_with_password: str
) -> None:
    """The store is reachable and empty: the message names it, not the password."""
    done = serve(fake_sage, tmp_path, "--tokens", f"{redis_with_password}?password={PASSWORD}")
    assert "holds no tokens" in done.stderr, done.stderr
    assert PASSWORD not in done.stderr


@pytest.mark.parametrize("grant", ["", "  "])
def test_a_blank_grant_is_a_usage_error_naming_the_grant_option(
    fake_sage: Any, tmp_path: Path, redis_url: str, grant: str
) -> None:
    done = serve(fake_sage, tmp_path, "--tokens", redis_url, "--grant", grant)
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert "Invalid value for '--grant'" in line, line


def sync_on(tmp_path: Path, *options: str, secret: str | None = "s") -> Any:
    """``sage-accounting sync`` on a worker host that is not logged in: the app's id and secret
    only, as docs/sync.md has it (a worker refreshes, it never authorizes: no redirect URI)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAGE_")}
    env.update(SAGE_CONFIG_DIR=str(tmp_path / "config"), SAGE_CLIENT_ID="id")
    if secret is not None:
        env["SAGE_CLIENT_SECRET"] = secret
    return subprocess.run(
        [sys.executable, "-m", "sage_accounting.cli", "sync", "--to",
         str(tmp_path / "books.duckdb"), "--no-progress", *options],
        env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def test_an_empty_shared_store_is_not_logged_in_for_mcp_and_sync(
    fake_sage: Any, tmp_path: Path, redis_url: str
) -> None:
    """Exit code 3, as cli/exit_codes.py has it for "not logged in", one line, for both."""
    for done in (
        serve(fake_sage, tmp_path, "--tokens", redis_url, "--grant", "x"),
        sync_on(tmp_path, "--tokens", redis_url, "--grant", "x"),
    ):
        assert done.returncode == 3, done.stderr
        [line] = done.stderr.strip().splitlines()
        assert line.startswith("error: ") and "holds no tokens for grant 'x'" in line, line


def test_moving_a_login_that_is_not_there_is_not_logged_in(tmp_path: Path, redis_url: str) -> None:
    done = sync_on(tmp_path, "--tokens", redis_url, "--grant", "x", "--tokens-from-login")
    assert done.returncode == 3, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error: ") and "not logged in here" in line, line


def test_an_argument_named_like_a_secret_keeps_its_message(tmp_path: Path, redis_url: str) -> None:
    """The one line said "client_secret: [REDACTED] required": the argument's name read as a
    credential's label, and the word after it as the credential."""
    done = sync_on(tmp_path, "--tokens", redis_url, "--grant", "x", secret=None)
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert "client_secret: is required: pass it or set SAGE_CLIENT_SECRET" in line, line


def test_encrypted_tokens_read_without_a_key_say_so(
    fake_sage: Any, tmp_path: Path, redis_url: str
) -> None:
    """They said "is not a token file (not JSON: Expecting value)"."""
    import time

    from sage_accounting import TokenSet

    pair = TokenSet.from_response(
        {"access_token": "a" * 40, "refresh_token": "r" * 40, "expires_in": 300}, time.time()
    )
    RedisTokenStore(redis_url, "books", cipher=TokenCipher(TokenCipher.generate_key())).save(pair)
    done = serve(fake_sage, tmp_path, "--tokens", redis_url, "--grant", "books")
    assert done.returncode == 3, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert "encrypted" in line and "SAGE_TOKENS_KEY" in line, line


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://u:{PASSWORD}/x@127.0.0.1/db",  # a / in the password, not quoted
        f"postgresql://u@127.0.0.1:notaport/db?password={PASSWORD}",
        f"postgresql://u:{PASSWORD}@127.0.0.1:99999/db",
    ],
)
def test_a_sync_destination_url_that_is_not_one_never_shows_its_password(
    tmp_path: Path, url: str
) -> None:
    """urllib splits ``u:pw/x@host`` at the ``/``: the "host" is ``u``, the "port" the password,
    and the message quoted both."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAGE_")}
    env.update(SAGE_CONFIG_DIR=str(tmp_path / "config"), SAGE_ACCESS_TOKEN="t" * 20)
    done = subprocess.run(
        [sys.executable, "-m", "sage_accounting.cli", "sync", "--to", url, "-b", "b",
         "--no-progress"],
        env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert "is not a PostgreSQL URL" in line and PASSWORD not in line, line


def test_a_grant_named_like_another_grants_lock_leaves_that_grant_alone(redis_url: str) -> None:
    """Grant "acme"'s lock and fence were the keys "sage-tokens:acme:lock" and ":fence", which
    are also where grants named "acme:lock" and "acme:fence" keep their pairs: a tenant naming
    its grant so broke another's (WRONGTYPE on every refresh)."""
    import time

    from sage_accounting import TokenSet

    pair = TokenSet.from_response(
        {"access_token": "a" * 40, "refresh_token": "r" * 40, "expires_in": 300}, time.time()
    )
    for grant in ("acme:fence", "acme:lock", "acme"):
        RedisTokenStore(redis_url, grant).save(pair)
    for grant in ("acme:fence", "acme:lock", "acme"):
        assert RedisTokenStore(redis_url, grant).load() == pair
