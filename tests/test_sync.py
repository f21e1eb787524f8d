"""``sage_accounting.sync`` against the sandbox, into DuckDB and a real PostgreSQL: exact,
separate, incremental, resumable after kill -9, and split between workers by leases."""

from __future__ import annotations

import datetime as dt
import io
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sync_books import bookkeeping, compare, seed

from sage_accounting.sync import SyncDataError, sync
from sage_accounting.sync._tables import all_tables, shaped
from sage_accounting.testing import Fault, SageSandbox

pytest.importorskip("dlt")

BUSINESSES = ("biz-a", "biz-b", "biz-c")


@pytest.fixture(scope="module")
def postgres(postgres_server: Any) -> str:
    """A fresh database on the session's PostgreSQL (tests/servers.py), spelt as dlt and psycopg2
    take it: dlt wants a password in the URL, which the server's trust authentication ignores."""
    url = str(postgres_server.new_database()).replace("postgresql+psycopg://", "postgresql://")
    return url.replace("@", ":sage@", 1)


def _query_for(kind: str, target: str) -> Callable[..., list[tuple[Any, ...]]]:
    def query(sql: str, *args: Any) -> list[tuple[Any, ...]]:
        if kind == "duckdb":
            import duckdb

            with duckdb.connect(target, read_only=True) as db:
                return db.execute(sql.replace("%s", "?"), list(args)).fetchall()
        import psycopg2

        with psycopg2.connect(target) as db, db.cursor() as cursor:
            cursor.execute(sql, args)
            rows: list[tuple[Any, ...]] = cursor.fetchall()
        db.close()
        return rows

    return query


def _cli_env(sandbox: SageSandbox) -> dict[str, str]:
    token = str(sandbox.issue_tokens(expires_in=3600)["access_token"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAGE_")}
    return {**env, "SAGE_BASE_URL": sandbox.base_url, "SAGE_ACCESS_TOKEN": token}


def _sage_command() -> list[str]:
    return [sys.executable, "-m", "sage_accounting.cli"]


@pytest.fixture(params=["duckdb", "postgres"])
def destination(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    if request.param == "duckdb":
        return "duckdb", str(tmp_path / "sage.duckdb")
    url = request.getfixturevalue("postgres")
    dataset = f"books_{os.getpid()}_{int(time.time() * 1000) % 10**6}"
    return "postgres", f"{url}#{dataset}"


def test_first_sync_changes_kill_and_resume_equal_the_sandbox(
    destination: tuple[str, str],
) -> None:
    """3 businesses, 20,000 records: a first sync; then records changed, deleted and added, a
    sync killed with SIGKILL mid-run, more changes, and a second sync: the database holds the
    sandbox's records exactly, money to the digit, each under its own business."""
    kind, where = destination
    target, _, dataset = where.partition("#")
    dataset = dataset or "books"
    query = _query_for(kind, target)
    rng = random.Random(3)
    with SageSandbox(businesses=BUSINESSES, seed=5) as sandbox:
        seed(sandbox, 20_000)
        client = sandbox.client(timeout=30.0)
        first = sync(client, to=target, businesses="all", dataset=dataset, progress=False)
        assert first.records >= 20_000
        assert compare(sandbox, query, dataset) >= 20_000

        for business in BUSINESSES:
            bookkeeping(sandbox, rng, business, 40)
        sandbox.inject(Fault.latency(0.01, times=10**6))  # slow enough to be killed mid-run
        before = len(sandbox.state.requests)
        run = subprocess.Popen(
            [*_sage_command(), "sync", "--to", target, "--dataset", dataset,
             "--all-businesses", "--no-progress"],
            env=_cli_env(sandbox), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        # Killed in its second business (~100 requests each): the first one's cursors are
        # committed, the second's are not.
        while len(sandbox.state.requests) < before + 130 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(run.pid, signal.SIGKILL)
        run.wait()
        assert run.returncode == -signal.SIGKILL
        sandbox.clear_faults()
        bookkeeping(sandbox, rng, "biz-b", 10)  # the books move on while nobody syncs

        second = sync(
            client, to=target, businesses="all", dataset=dataset, progress=False,
            reconcile_every=dt.timedelta(0),  # also look for deletions Sage does not report
        )  # fmt: skip
        assert second.records < first.records  # incremental: far from everything again
        assert sum(b.counters.deleted for b in second.businesses) >= 3 * (40 + 20 + 1)
        assert compare(sandbox, query, dataset) > 19_000
        # The ledger account deleted (no deleted_since at Sage) was found by reconciliation.
        assert query(
            f"SELECT count(*) FROM {dataset}._sage_sync_cursors WHERE resource = %s "
            "AND reconciled_at IS NOT NULL",
            "ledger_accounts",
        ) == [(3,)]


def test_a_heavy_page_falls_back_to_small_pages_then_one_by_one(tmp_path: Path) -> None:
    with SageSandbox(businesses=("biz-a",)) as sandbox:
        sandbox.seed("contacts", 450, balance="1.25")
        # The first page of 200 fails, then the first page of 20 too: read as pages of 20, and
        # that one page's records one by one.
        sandbox.inject(Fault.server_error(503, path="/contacts", times=2))
        out = io.StringIO()
        client = sandbox.client(max_retries=0)
        report = sync(client, to=str(tmp_path / "s.duckdb"), resources=["contacts"], progress=out)
        notes = report.businesses[0].counters.fallbacks
        assert any("read as pages of 20" in n for n in notes), notes
        assert any("one by one" in n for n in notes), notes
        assert "heavy page: contacts: page 1 of 200 failed (InternalServerError)" in out.getvalue()
        assert compare(sandbox, _query_for("duckdb", str(tmp_path / "s.duckdb"))) == 459


def test_money_that_does_not_fit_is_refused_never_rounded() -> None:
    shape = all_tables()["contacts"].shape
    row = shaped({"id": "x", "balance": "1.50"}, shape, "b", "contacts x")
    assert row["balance"] == Decimal("1.50") and row["business_id"] == "b"
    with pytest.raises(SyncDataError, match=r"contacts x\.balance: 0\.12345678901 has more"):
        shaped({"id": "x", "balance": "0.12345678901"}, shape, "b", "contacts x")
    with pytest.raises(SyncDataError, match="not a number"):
        shaped({"id": "x", "balance": "twelve"}, shape, "b", "contacts x")


def test_every_list_resource_of_the_spec_has_a_table() -> None:
    tables = all_tables()
    assert len(tables) == 77  # 79 lists less /businesses and tax_determinations (needs usage)
    assert tables["contacts"].strategy == "feed"
    assert tables["ledger_accounts"].strategy == "changes"
    assert tables["currencies"].strategy == "full"
    assert "sales_invoices__invoice_lines" in tables["sales_invoices"].child_tables()


def test_cli_sync_shows_what_it_did(tmp_path: Path) -> None:
    with SageSandbox(businesses=("biz-a", "biz-b")) as sandbox:
        target = tmp_path / "ledger.duckdb"
        done = subprocess.run(
            [*_sage_command(), "sync", "--to", str(target), "--all-businesses",
             "--resources", "contacts,sales-invoices"],
            env=_cli_env(sandbox), capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "biz-a: 13 records, 0 deleted" in done.stderr
        assert "synced 2 businesses, 26 records, " in done.stderr
        assert compare(sandbox, _query_for("duckdb", str(target))) == 26
        ledger = f"sqlite:///{tmp_path / 'quota.db'}"
        for left in ("2,498", "2,496"):  # two processes, one ledger: the second sees the first
            again = subprocess.run(
                [*_sage_command(), "sync", "--to", str(target), "--resources", "contacts",
                 "--quota", ledger],
                env=_cli_env(sandbox), capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            assert f"(quota left today {left})" in again.stderr, again.stderr
        bad = subprocess.run(
            [*_sage_command(), "sync", "--to", str(target), "--resources", "nope"],
            env=_cli_env(sandbox), capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert bad.returncode == 2 and "'nope' is not a list resource" in bad.stderr


def test_three_workers_split_thirty_businesses_and_finish_a_killed_ones(postgres: str) -> None:
    """3 worker processes on one PostgreSQL: no business synced by two at once; a worker killed
    mid-business loses its lease and the others finish its businesses."""
    businesses = tuple(f"biz-{i:02d}" for i in range(30))
    query = _query_for("postgres", postgres)
    dataset = "workers"
    with SageSandbox(businesses=businesses) as sandbox:
        sandbox.inject(Fault.latency(0.002, times=10**6))  # each business takes a moment
        command = [*_sage_command(), "sync", "--to", postgres, "--dataset", dataset,
                   "--all-businesses", "--resources", "contacts,sales_invoices,products,"
                   "ledger_accounts", "--leases", postgres, "--lease-seconds", "3",
                   "--no-progress"]  # fmt: skip
        env = _cli_env(sandbox)
        workers = [
            subprocess.Popen([*command, "--worker", f"w{i}"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for i in range(3)
        ]  # fmt: skip
        deadline = time.monotonic() + 90
        victim_held: list[str] = []
        while time.monotonic() < deadline and not victim_held:
            try:  # w0 is killed once it has finished one business and holds another
                done = query("SELECT count(*) FROM sage_sync_runs WHERE worker = 'w0' "
                             "AND outcome = 'done'")[0][0]  # fmt: skip
                held = query("SELECT business_id FROM sage_sync_leases WHERE holder = 'w0'")
            except Exception:  # the tables are not there yet
                done, held = 0, []
            if done >= 1 and held:
                victim_held = [row[0] for row in held]
                workers[0].send_signal(signal.SIGKILL)
            time.sleep(0.02)
        assert victim_held, "worker w0 never held a business"
        killed_at = dt.datetime.now(dt.UTC)
        for worker in workers[1:]:
            _, err = worker.communicate(timeout=120)
            assert worker.returncode == 0, err.decode()
        workers[0].wait()

        runs = query("SELECT business_id, worker, started_at, finished_at, outcome "
                     "FROM sage_sync_runs ORDER BY started_at")  # fmt: skip
        by_business: dict[str, list[tuple[Any, ...]]] = {}
        for business, worker, started, finished, _ in runs:
            by_business.setdefault(business, []).append((worker, started, finished or killed_at))
        for business, spans in by_business.items():
            for (_, _, end), (_, start, _) in zip(spans, spans[1:], strict=False):
                assert start >= end, f"{business} synced twice at once: {spans}"
        assert set(by_business) == set(businesses)
        finished = {b for b, w, _, f, outcome in runs if outcome == "done"}
        assert finished == set(businesses)
        for business in victim_held:  # the killed worker's business: taken over by another
            assert {w for w, _, _ in by_business[business]} - {"w0"}
        assert {w for b, w, _, _, o in runs if o == "done"} == {"w0", "w1", "w2"}
        assert compare(sandbox, query, dataset) == 30 * (9 + 5 + 4 + 10)  # every demo record


def test_ctrl_c_mid_sync_is_one_line_and_exit_130(tmp_path: Path) -> None:
    with SageSandbox() as sandbox:
        sandbox.inject(Fault.latency(0.02, times=10**6))
        run = subprocess.Popen(
            [*_sage_command(), "sync", "--to", str(tmp_path / "s.duckdb"), "--no-progress"],
            env=_cli_env(sandbox), stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while len(sandbox.state.requests) < 20 and time.monotonic() < deadline:
            time.sleep(0.02)
        run.send_signal(signal.SIGINT)
        _, err = run.communicate(timeout=60)
        assert (run.returncode, err) == (130, "error: interrupted\n")


def test_the_day_budget_is_checked_before_a_business_starts_and_shown_after(
    tmp_path: Path,
) -> None:
    from sage_accounting import DailyQuotaExceededError
    from sage_accounting.testing import SandboxLimits

    target = str(tmp_path / "q.duckdb")
    with SageSandbox(businesses=("biz-a",), limits=SandboxLimits(business_per_day=60)) as sandbox:
        client = sandbox.client()  # its quota ledger mirrors the sandbox's day limit
        before = len(sandbox.state.requests)
        with pytest.raises(DailyQuotaExceededError, match="the sync of business biz-a needs"):
            sync(client, to=target, businesses=["biz-a"], progress=False)  # 77 lists
        assert len(sandbox.state.requests) == before  # refused before any request
        out = io.StringIO()
        sync(client, to=target, businesses=["biz-a"], resources=["contacts"], progress=out)
        assert "biz-a: 9 records, 0 deleted, 1 pages, 1 requests" in out.getvalue()
        assert "(quota left today 59)" in out.getvalue()  # Sage's day, spent through the ledger


def test_bad_destinations_are_refused_before_any_request() -> None:
    from sage_accounting import ArgumentValueError, SageAccounting

    client = SageAccounting(access_token="t", base_url="http://127.0.0.1:9/v3.1")
    with pytest.raises(ArgumentValueError, match="need a PostgreSQL destination"):
        sync(client, to="sage.duckdb", leases="postgresql://x@127.0.0.1/db", businesses="b")
    with pytest.raises(ArgumentValueError, match="ftp:// is not a destination"):
        sync(client, to="ftp://host/file", businesses="b")
    with pytest.raises(ArgumentValueError, match="also the DuckDB file's name"):
        sync(client, to="books.duckdb", dataset="books", businesses="b")
    for url in ("postgresql://...", "postgresql://u@/db", "postgresql://u@h:99999/db"):
        with pytest.raises(ArgumentValueError, match="not a PostgreSQL URL"):
            sync(client, to=url, businesses="b")


def _host(tmp_path: Path, sandbox: SageSandbox, name: str, logged_in: bool) -> dict[str, str]:
    """One host's environment: its own config directory with the app saved (as `sage-accounting
    login` leaves it) and, when ``logged_in``, that login's tokens."""
    import json

    from sage_accounting import FileTokenStore, TokenSet

    config = tmp_path / name
    config.mkdir()
    state = sandbox.state
    app = {"client_id": state.client_id, "client_secret": state.client_secret,
           "redirect_uri": state.redirect_uri, "base_url": sandbox.base_url,
           "token_url": sandbox.token_url}  # fmt: skip
    (config / "app.json").write_text(json.dumps(app))
    if logged_in:
        tokens = TokenSet.from_response(sandbox.issue_tokens(), time.time())
        FileTokenStore(config / "tokens.json").save(tokens)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAGE_")}
    return {**env, "SAGE_CONFIG_DIR": str(config)}


@pytest.mark.parametrize("kind", ["redis", "postgres"])
def test_cli_sync_workers_on_two_hosts_share_one_grant_through_the_token_store(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """`sync --tokens URL`: the login moved into Redis / PostgreSQL once, then two workers (two
    config directories: two hosts, one of them never logged in) sync at once with 2-second
    access tokens; the grant is refreshed by one at a time and survives (the sandbox kills a grant
    whose spent refresh token comes back), and the database equals the sandbox."""
    from sage_accounting.scale import RedisTokenStore, SQLTokenStore

    if kind == "redis":
        url = request.getfixturevalue("redis_url")
        store: Any = RedisTokenStore(url, "books")
    else:
        url = request.getfixturevalue("postgres_url")
        store = SQLTokenStore(url, "books")
    businesses = tuple(f"biz-{i}" for i in range(6))
    target = str(tmp_path / "shared.duckdb")
    with SageSandbox(businesses=businesses, access_token_seconds=2) as sandbox:
        sandbox.inject(Fault.latency(0.05, times=10**6))  # each run outlives a token or two
        first = _host(tmp_path, sandbox, "host-a", logged_in=True)
        second = _host(tmp_path, sandbox, "host-b", logged_in=False)
        common = ["--tokens", url, "--grant", "books", "--no-progress",
                  "--resources", "contacts,products"]  # fmt: skip
        refused = subprocess.run(
            [*_sage_command(), "sync", "--to", target, "-b", "biz-0", *common],
            env=second, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert refused.returncode != 0 and "holds no tokens for grant 'books'" in refused.stderr
        moved = subprocess.run(
            [*_sage_command(), "sync", "--to", target, "-b", "biz-0", *common,
             "--tokens-from-login"],
            env=first, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert moved.returncode == 0, moved.stderr
        assert "moved the login's tokens into" in moved.stderr
        assert not (tmp_path / "host-a" / "tokens.json").exists()  # never refreshed there again
        moved_pair = store.load()
        postgres = request.getfixturevalue("postgres")
        workers = [
            subprocess.Popen(
                [*_sage_command(), "sync", "--to", postgres, "--dataset", f"shared_{kind}",
                 "--all-businesses", "--leases", postgres, "--worker", name, *common],
                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
            for name, env in (("a", first), ("b", second))
        ]  # fmt: skip
        for worker in workers:
            _, err = worker.communicate(timeout=240)
            assert worker.returncode == 0, err
        assert compare(sandbox, _query_for("postgres", postgres), f"shared_{kind}") >= 6 * 9
        refreshed = store.load()  # the grant lives on in the store, refreshed by the workers
        assert refreshed is not None and refreshed.access_token != moved_pair.access_token
        again = subprocess.run(
            [*_sage_command(), "sync", "--to", target, "-b", "biz-1", *common],
            env=second, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert again.returncode == 0, again.stderr


def test_garbage_from_sage_is_refused_by_name_and_moves_no_cursor(tmp_path: Path) -> None:
    """Money with more digits than DECIMAL(38, 10) holds, and a record without an id: the sync
    stops with a SyncDataError naming the record and field, nothing rounded or keyed by guess,
    no cursor moved; once Sage's records are right again the next sync is whole."""
    target = str(tmp_path / "g.duckdb")
    query = _query_for("duckdb", target)
    with SageSandbox(businesses=("biz-a",)) as sandbox:
        client = sandbox.client()
        contacts = sandbox.state.records[("biz-a", "contacts")]
        first, second = sorted(contacts)[:2]
        with sandbox.state.lock:
            contacts[first]["balance"] = "12.12345678901"
        with pytest.raises(SyncDataError, match=rf"contacts {first} of business biz-a\.balance: "
                           r"12\.12345678901 has more than 10 digits after the point"):  # fmt: skip
            sync(client, to=target, resources=["contacts"], progress=False)
        with sandbox.state.lock:
            contacts[first]["balance"] = "1" * 29
        with pytest.raises(SyncDataError, match="has more than 28 digits"):
            sync(client, to=target, resources=["contacts"], progress=False)
        with sandbox.state.lock:
            contacts[first]["balance"] = "12.1234567890"  # ten digits: fits exactly
            contacts[second]["id"] = None
        with pytest.raises(SyncDataError, match="the record has no id"):
            sync(client, to=target, resources=["contacts"], progress=False)
        assert query("SELECT count(*) FROM books._sage_sync_cursors") == [(0,)]
        with sandbox.state.lock:
            contacts[second]["id"] = second
        sync(client, to=target, resources=["contacts"], progress=False)
        assert compare(sandbox, query) == len(contacts)
        assert query("SELECT balance FROM books.contacts WHERE id = %s", first) == [
            (Decimal("12.1234567890"),)
        ]


def test_two_syncs_of_one_business_at_once_without_leases(
    destination: tuple[str, str], tmp_path: Path
) -> None:
    """Two processes sync the same business into one database at the same moment (no leases):
    into DuckDB the second is refused in one line (the file is the first one's until it is
    done); into PostgreSQL both finish and no record is doubled or lost."""
    kind, where = destination
    target, _, dataset = where.partition("#")
    dataset = dataset or "books"
    with SageSandbox(businesses=("biz-a",)) as sandbox:
        seed(sandbox, 3_000)
        sandbox.inject(Fault.latency(0.01, times=10**6))
        command = [*_sage_command(), "sync", "--to", target, "--dataset", dataset,
                   "--resources", "contacts,products,sales_invoices", "--no-progress"]  # fmt: skip
        runs = [
            subprocess.Popen(command, env=_cli_env(sandbox), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
            for _ in range(2)
        ]  # fmt: skip
        results = [(run.wait(timeout=240), run.communicate()[1]) for run in runs]
        sandbox.clear_faults()
        if kind == "duckdb":
            codes = sorted(code for code, _ in results)
            assert codes[0] == 0, results
            refused = [err for code, err in results if code != 0]
            assert len(refused) == 1 and f"cannot open {target}" in refused[0], results
            assert len(refused[0].strip().splitlines()) == 1, refused[0]
        else:
            assert [code for code, _ in results] == [0, 0], results
        assert compare(sandbox, _query_for(kind, target), dataset) >= 3_000


def _first_sync_command(target: str, dataset: str) -> list[str]:
    """The CLI syncing every business's contacts, products and invoices (the kill tests')."""
    return [*_sage_command(), "sync", "--to", target, "--dataset", dataset, "--all-businesses",
            "--resources", "contacts,products,sales_invoices", "--no-progress"]  # fmt: skip


def test_kill_9_in_the_load_step_then_a_restart_is_whole(destination: tuple[str, str]) -> None:
    """A first sync killed with SIGKILL once every page is read (dlt normalizing or loading, the
    cursors not yet written), then the same command again: the database equals the sandbox."""
    kind, where = destination
    target, _, dataset = where.partition("#")
    dataset = dataset or "books"
    with SageSandbox(businesses=("biz-a", "biz-b")) as sandbox:
        seed(sandbox, 6_000)
        command = _first_sync_command(target, dataset)
        env = _cli_env(sandbox)

        def requests() -> int:
            return len(sandbox.state.requests)

        before = requests()
        run = subprocess.Popen(command, env=env, stderr=subprocess.PIPE)
        # Every page read (no new request for 0.3 s while the process lives): it is in dlt.
        seen, still_since = before, time.monotonic()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and run.poll() is None:
            time.sleep(0.02)
            if requests() != seen:
                seen, still_since = requests(), time.monotonic()
            elif seen > before + 10 and time.monotonic() - still_since > 0.3:
                break
        assert run.poll() is None, "the sync ended before it could be killed in its load"
        os.kill(run.pid, signal.SIGKILL)
        run.wait()
        again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
        assert again.returncode == 0, again.stderr
        assert compare(sandbox, _query_for(kind, target), dataset) >= 6_000


def _sql_for(kind: str, target: str) -> Callable[[str], None]:
    """A statement run on the destination (the state a killed run can leave, made on purpose)."""

    def run(sql: str) -> None:
        if kind == "duckdb":
            import duckdb

            with duckdb.connect(target) as db:
                db.execute(sql)
            return
        import psycopg2

        with psycopg2.connect(target) as db, db.cursor() as cursor:
            cursor.execute(sql)
        db.close()

    return run


def test_a_first_sync_appends_and_what_a_killed_append_leaves_is_merged_whole(
    destination: tuple[str, str],
) -> None:
    """A first sync into an empty copy appends (no staging tables); a killed append leaves some
    tables' rows and not others', lines without their invoice, invoices without their lines,
    and no cursor: the next run merges, and the copy equals the sandbox, nothing doubled, no
    orphan line left (those of invoices Sage has deleted meanwhile included)."""
    kind, where = destination
    target, _, dataset = where.partition("#")
    dataset = dataset or "books"
    query, run_sql = _query_for(kind, target), _sql_for(kind, target)
    with SageSandbox(businesses=("biz-a", "biz-b")) as sandbox:
        seed(sandbox, 2_000)
        client = sandbox.client()
        resources = ["contacts", "products", "sales_invoices"]
        sync(client, to=target, businesses="all", dataset=dataset, resources=resources,
             progress=False)  # fmt: skip
        staging = query("SELECT schema_name FROM information_schema.schemata "
                        "WHERE schema_name LIKE %s", f"{dataset}_staging%")  # fmt: skip
        assert staging == [], "a first sync into an empty copy merged instead of appending"
        assert compare(sandbox, query, dataset) >= 2_000

        invoices = sorted(r[0] for r in query(
            f"SELECT id FROM {dataset}.sales_invoices WHERE business_id = %s", "biz-a"))  # fmt: skip
        no_parent, no_lines = invoices[: len(invoices) // 2], invoices[len(invoices) // 2 :]
        quoted = ", ".join(f"'{rid}'" for rid in no_parent)
        run_sql(f"DELETE FROM {dataset}.sales_invoices WHERE business_id = 'biz-a' "
                f"AND id IN ({quoted})")  # fmt: skip
        quoted = ", ".join(f"'{rid}'" for rid in no_lines[:50])
        run_sql(f"DELETE FROM {dataset}.sales_invoices__invoice_lines WHERE business_id = "
                f"'biz-a' AND parent_id IN ({quoted})")  # fmt: skip
        run_sql(f"DELETE FROM {dataset}.products WHERE business_id = 'biz-a'")  # lines stay
        run_sql(f"DELETE FROM {dataset}._sage_sync_cursors")  # the kill came before the commit
        for rid in no_parent[:10]:  # gone from Sage while only their lines are in the copy
            sandbox.delete_record("sales_invoices", rid, "biz-a")

        again = sync(client, to=target, businesses="all", dataset=dataset, resources=resources,
                     progress=False)  # fmt: skip
        assert again.records >= 2_000 - 10
        assert compare(sandbox, query, dataset) >= 2_000 - 10
        orphans = query(f"SELECT count(*) FROM {dataset}.sales_invoices__invoice_lines l WHERE "
                        f"NOT EXISTS (SELECT 1 FROM {dataset}.sales_invoices i WHERE "
                        "i.business_id = l.business_id AND i.id = l.parent_id)")  # fmt: skip
        assert orphans == [(0,)]


def test_kill_9_while_an_append_commits_then_a_restart_doubles_nothing(postgres: str) -> None:
    """A first sync into PostgreSQL killed with SIGKILL as soon as its append's first rows are
    committed (other tables' files still loading, no cursor written), then the same command
    again: the copy equals the sandbox, not a row doubled."""
    dataset = f"books_{os.getpid()}_{int(time.time() * 1000) % 10**6}"
    query = _query_for("postgres", postgres)
    with SageSandbox(businesses=("biz-a", "biz-b")) as sandbox:
        seed(sandbox, 12_000)
        command = _first_sync_command(postgres, dataset)
        env = _cli_env(sandbox)
        run = subprocess.Popen(command, env=env, stderr=subprocess.PIPE)
        stored: list[tuple[Any, ...]] = []
        deadline = time.monotonic() + 120
        while not stored and time.monotonic() < deadline and run.poll() is None:
            try:
                stored = query(f"SELECT 1 FROM {dataset}.sales_invoices__invoice_lines "
                               f"UNION ALL SELECT 1 FROM {dataset}.contacts LIMIT 1")  # fmt: skip
            except Exception:  # noqa: BLE001  (not created yet)
                time.sleep(0.005)
        assert run.poll() is None, "the sync ended before it could be killed in its append"
        os.kill(run.pid, signal.SIGKILL)
        run.wait()
        assert query(f"SELECT count(*) FROM {dataset}._sage_sync_cursors") == [(0,)]
        again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
        assert again.returncode == 0, again.stderr
        assert compare(sandbox, query, dataset) >= 12_000


def test_a_business_named_twice_in_one_first_sync_is_stored_once(tmp_path: Path) -> None:
    """Both readings of a business named twice come in one load: merged, so each record is one
    row (appending both would double every record of a first sync)."""
    target = str(tmp_path / "twice.duckdb")
    with SageSandbox(businesses=("biz-a", "biz-b")) as sandbox:
        seed(sandbox, 400)
        sync(sandbox.client(), to=target, businesses=["biz-a", "biz-b", "biz-a"],
             resources=["contacts", "sales_invoices"], progress=False)  # fmt: skip
        assert compare(sandbox, _query_for("duckdb", target)) >= 300  # no products synced
