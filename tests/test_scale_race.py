"""Many hosts, one grant, one business: the issue's "done when" runs against real servers.

Eight worker processes (``scale_worker.py``), each in its own temporary directory with its own
HOME, share nothing but the store's server. The runs take a minute or two each, so they all start
together, in the background, when the first test of this module asks for them (about
``SECONDS + 10`` s for the refresh races, ``2 * 60 + 5`` s for the quota run, all at once) and
each test waits for its own and judges it:

- refresh races (Redis, PostgreSQL, SQLite): 5 s access tokens for ``SECONDS``; one worker is
  killed -9 while it holds the grant's lock, just before it asks Sage; Redis is restarted and
  PostgreSQL's connections terminated (``pg_terminate_backend``) mid-run. Zero dead grants,
  every refresh request rotated the grant (a second refresh of one rotation would have killed
  it: the sandbox ends a grant whose spent refresh token comes back, as Sage does), the grant
  alive at the end;
- the quota run: eight workers on one business through one Redis ledger against the sandbox's
  100 a minute: zero 429s and at least 95 of each minute's 100 requests used.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from sage_accounting import OAuthApp, OAuthSession, TokenSet
from sage_accounting.testing import SageSandbox, SandboxLimits

pytest.importorskip("redis")
pytest.importorskip("sqlalchemy")

SECONDS = float(os.environ.get("SAGE_RACE_SECONDS", "60"))
QUOTA_MINUTES = int(os.environ.get("SAGE_QUOTA_MINUTES", "2"))
WORKERS = 8
WORKER = Path(__file__).with_name("scale_worker.py")
GRANT = "race-grant"


@dataclass
class Run:
    """What one background run saw, for its test to judge."""

    name: str
    counts: dict[str, int] = field(default_factory=dict)
    workers: list[dict[str, Any]] = field(default_factory=list)
    exit_codes: list[int] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    alive_at_end: bool = False
    stderr: list[str] = field(default_factory=list)


def _spawn(args: list[str], home: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "HOME": str(home), "TMPDIR": str(home)}
    env = {k: v for k, v in env.items() if not k.startswith("SAGE_")}
    return subprocess.Popen(
        [sys.executable, str(WORKER), *args],
        cwd=home,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _store(spec: str, key: str = GRANT) -> Any:
    from scale_worker import make_store

    return make_store(spec, key)


def _seed(sage: SageSandbox, spec: str, key: str = GRANT) -> OAuthApp:
    app = OAuthApp(
        sage.state.client_id,
        sage.state.client_secret,
        sage.state.redirect_uri,
        token_url=sage.token_url,
    )
    OAuthSession(
        app, _store(spec, key), tokens=TokenSet.from_response(sage.issue_tokens(), time.time())
    )
    return app


def _worker_args(sage: SageSandbox, mode: str, spec: str, key: str, seconds: float) -> list[str]:
    """A worker's command line; every worker starts 15 s from now (after all start-ups)."""
    return [
        mode,
        *("--base-url", sage.base_url, "--token-url", sage.token_url),
        *("--client-id", sage.state.client_id, "--client-secret", sage.state.client_secret),
        *("--store", spec, "--key", key, "--seconds", str(seconds)),
        *("--start-at", str(time.time() + 15)),
    ]


def _collect(run: Run, workers: list[subprocess.Popen[str]]) -> None:
    for worker in workers:
        out, err = worker.communicate(timeout=SECONDS + 180)
        run.exit_codes.append(worker.returncode)
        run.stderr.append(err[-2000:])
        lines = [line for line in out.splitlines() if line.startswith("{")]
        run.workers.append(json.loads(lines[-1]) if lines else {})


def refresh_race(name: str, spec: str, disrupt: Any, workdir: Path) -> Run:
    run = Run(name)
    with SageSandbox(demo_data=False, access_token_seconds=5, client_id=f"race-{name}") as sage:
        app = _seed(sage, spec)
        common = _worker_args(sage, "refresh", spec, GRANT, SECONDS)
        marker = workdir / "victim-refreshing"
        workers = []
        for i in range(WORKERS):
            home = workdir / f"worker-{i}"
            home.mkdir()
            extra = ["--victim", str(marker)] if i == 0 else []
            workers.append(_spawn(common + extra, home))
        started = time.monotonic() + 15
        killed = disrupted = False
        while any(w.poll() is None for w in workers):
            elapsed = time.monotonic() - started
            if not killed and marker.exists():
                workers[0].send_signal(signal.SIGKILL)  # holding the lock, Sage not yet asked
                killed = True
                run.events.append(f"killed -9 worker 0 mid-refresh at {elapsed:.1f} s")
            if disrupt is not None and not disrupted and elapsed > SECONDS / 2:
                # In its own thread: the victim must still be caught while a disruption lasts.
                def disrupting(at: str = f"from {elapsed:.1f} s") -> None:
                    run.events.append(f"{disrupt()} {at}")

                disruptor = threading.Thread(target=disrupting)
                disruptor.start()
                disrupted = True
            time.sleep(0.05)
        _collect(run, workers)
        if disrupted:
            disruptor.join()
        with sage.state.lock:
            run.counts = dict(sage.state.counts)  # before the check below refreshes once more
        # The grant is alive: what the store holds refreshes (and the API takes the result).
        session = OAuthSession(app, _store(spec))
        stored = session.current()
        try:
            session.refresh_after_unauthorized(stored.access_token)
            run.alive_at_end = True
        except Exception as exc:  # judged by the test
            run.events.append(f"final refresh failed: {type(exc).__name__}: {exc}")
    return run


def quota_run(redis_url: str, workdir: Path) -> Run:
    run = Run("quota")
    limits = SandboxLimits(business_per_minute=100)
    seconds = 60 * QUOTA_MINUTES + 2
    with SageSandbox(demo_data=False, client_id="quota-app", limits=limits) as sage:
        _seed(sage, f"redis:{redis_url}", "quota-grant")
        common = _worker_args(sage, "quota", f"redis:{redis_url}", "quota-grant", seconds)
        common += ["--business", sage.state.lead_business]
        workers = []
        for i in range(WORKERS):
            home = workdir / f"worker-{i}"
            home.mkdir()
            workers.append(_spawn(common, home))
        _collect(run, workers)
        with sage.state.lock:
            run.counts = dict(sage.state.counts)
    return run


# -- the background runs --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def runs(request: pytest.FixtureRequest) -> Any:
    """Every run started at once (each on its own servers, so one's restart is not another's);
    a run whose server is not installed is a skip (a failure in CI: see servers.py)."""
    from servers import PostgresServer, RedisServer

    pool = concurrent.futures.ThreadPoolExecutor(5)
    futures: dict[str, concurrent.futures.Future[Run] | BaseException] = {}
    closers: list[Any] = []
    root = Path(tempfile.mkdtemp(prefix="sage-race-"))

    def start(name: str, make: Any) -> None:
        try:
            futures[name] = pool.submit(make)
        except BaseException as exc:  # noqa: BLE001 (a skip or failure, raised by its test)
            futures[name] = exc

    def with_server(cls: Any) -> Any:
        server = cls()
        closers.append(server.close)
        return server

    def on(name: str) -> Path:
        path = root / name
        path.mkdir()
        return path

    try:
        redis = with_server(RedisServer)

        def restart_redis() -> str:
            redis.restart(down=1.0)
            return "restarted Redis (1 s down)"

        start(
            "redis", lambda: refresh_race("redis", f"redis:{redis.url}", restart_redis, on("redis"))
        )
        quota_redis = with_server(RedisServer)
        start("quota", lambda: quota_run(quota_redis.url, on("quota")))
    except BaseException as exc:  # noqa: BLE001
        futures.setdefault("redis", exc)
        futures.setdefault("quota", exc)
    try:
        postgres = with_server(PostgresServer)
        url = postgres.new_database()
        database = url.rsplit("/", 1)[1]

        def drop() -> str:
            """Every connection to the database terminated, once a second for 10 s (a pooled
            connection idle at one moment is in use at the next)."""
            dropped = 0
            for _ in range(10):
                dropped += postgres.drop_connections(database)
                time.sleep(1)
            return f"terminated {dropped} PostgreSQL connections over 10 s"

        start("postgres", lambda: refresh_race("postgres", f"sql:{url}", drop, on("postgres")))
    except BaseException as exc:  # noqa: BLE001
        futures.setdefault("postgres", exc)
    sqlite = f"sql:sqlite:///{root / 'tokens.db'}"
    start("sqlite", lambda: refresh_race("sqlite", sqlite, None, on("sqlite")))

    def result(name: str) -> Run:
        outcome = futures[name]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome.result()

    yield result
    pool.shutdown(wait=True)
    for close in closers:
        close()


def _judge_refresh_race(run: Run) -> None:
    report = json.dumps(
        {
            "counts": run.counts,
            "events": run.events,
            "workers": run.workers,
            "exits": run.exit_codes,
        },
        indent=1,
    )
    print(f"\n{run.name}: {report}")
    assert run.counts.get("grant killed", 0) == 0, report
    assert run.alive_at_end, report
    # Every refresh request Sage saw rotated the grant: none raced another for one rotation
    # (the last one is the check above, made after the workers ended).
    assert run.counts.get("refresh", 0) == run.counts.get("rotation", 0), report
    # It kept rotating: every 3 s on an idle machine; on a loaded one (the sandbox serving four
    # runs from one process) every 10-25 s, and 8 s stand still while the victim's lease runs out.
    assert run.counts["rotation"] >= 2, report
    assert all(code == 0 for code in run.exit_codes[1:]), run.stderr
    assert run.exit_codes[0] == -signal.SIGKILL, ("the victim was not killed -9", run.stderr[0])
    # ... and each was made by a worker that lived to count it (the victim never asked Sage).
    assert sum(w.get("refreshes", 0) for w in run.workers[1:]) == run.counts["rotation"]
    for worker in run.workers[1:]:
        assert worker["statuses"].get("200", 0) > 0, report


def test_eight_hosts_refresh_one_grant_through_redis(runs: Any) -> None:
    _judge_refresh_race(runs("redis"))


def test_eight_hosts_refresh_one_grant_through_postgresql(runs: Any) -> None:
    _judge_refresh_race(runs("postgres"))


def test_eight_hosts_refresh_one_grant_through_sqlite(runs: Any) -> None:
    _judge_refresh_race(runs("sqlite"))


def test_eight_hosts_use_a_businesss_minute_without_a_429(runs: Any) -> None:
    run = runs("quota")

    def per_minute(key: str) -> list[int]:
        times = sorted(t for w in run.workers for t in w.get(key, []))
        return [
            sum(1 for t in times if times[0] + 61 * k <= t < times[0] + 61 * (k + 1))
            for k in range(QUOTA_MINUTES)
        ]

    statuses: dict[str, int] = {}
    for worker in run.workers:
        for status, n in worker.get("statuses", {}).items():
            statuses[status] = statuses.get(status, 0) + n
    # The ledger's minutes, by when it admitted each call: a loaded machine's delay between
    # admitting and sending shifts minutes counted by send times (seen: [106, 94] at load 17,
    # with zero 429s), so sends are printed, not judged.
    admitted, sent = per_minute("admitted"), per_minute("sent")
    print(
        f"\nquota: per minute admitted {admitted}, sent {sent}, statuses {statuses},"
        f" counts {run.counts}"
    )
    assert all(code == 0 for code in run.exit_codes), run.stderr
    assert run.counts.get("429 minute", 0) == 0 and "429" not in statuses, statuses
    # Used: at least 95 of each minute's 100 (the ledger's minute is 61 s: see _quota's
    # WINDOW_MARGIN). Never more than Sage's 100 in its 60 s: the sandbox's zero 429s above.
    assert all(n >= 95 for n in admitted), admitted
