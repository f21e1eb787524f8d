"""Real PostgreSQL and Redis servers for the tests: Debian's binaries, started on 127.0.0.1 on a
free port in a temporary directory, stopped at the end (other engineers' and CI's tests run at the
same moment, so nothing fixed). PostgreSQL refuses to run as root: as root the server runs as the
``postgres`` user, in a directory that user owns.

Absent binaries skip the tests that need them, except in CI (``CI=true``), where they fail.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def missing(what: str) -> None:
    """Skip, or fail in CI (where `.ci/run` installs the servers)."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{what} is not installed (CI must have it: .ci/run installs it)")
    pytest.skip(f"{what} is not installed")


def _wait_port(port: int, process: subprocess.Popen[bytes] | None, what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port} within 30 s")


class RedisServer:
    """``password``: the server asks for it (``url`` then holds it, as a user's would)."""

    def __init__(self, password: str | None = None) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            missing("redis-server")
        self.binary = binary
        self.dir = Path(tempfile.mkdtemp(prefix="sage-redis-"))
        self.port = free_port()
        self.password = password
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        credentials = f":{self.password}@" if self.password else ""
        return f"redis://{credentials}127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert self.binary is not None
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.dir),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--protected-mode",
                "no",
                *(["--requirepass", self.password] if self.password else []),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_port(self.port, self.process, "redis-server")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None

    def restart(self, down: float = 0.5) -> None:
        """Stop the server, wait, start it again on the same port: its keys come back from its
        append-only file, flushed on the way down (a production Redis holding tokens keeps one)."""
        self.stop()
        time.sleep(down)
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class PostgresServer:
    def __init__(self) -> None:
        if not (PG_BIN / "postgres").exists():
            missing("PostgreSQL 15 (postgresql-15)")
        self.as_root = os.geteuid() == 0
        self.dir = Path(tempfile.mkdtemp(prefix="sage-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.user = "postgres" if self.as_root else pwd.getpwuid(os.geteuid()).pw_name
        if self.as_root:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(self.data),
                "-U",
                self.user,
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
            ]
        )
        self.process = subprocess.Popen(
            self._as_user(
                [
                    str(PG_BIN / "postgres"),
                    "-D",
                    str(self.data),
                    "-p",
                    str(self.port),
                    "-k",
                    str(self.dir),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "fsync=off",
                    "-c",
                    "max_connections=200",
                    "-c",
                    "synchronous_commit=off",
                ]
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_port(self.port, self.process, "postgres")
        deadline = time.monotonic() + 30
        while subprocess.run(  # listening is not yet accepting: wait until it answers
            self._as_user([str(PG_BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)]),
            capture_output=True,
        ).returncode:
            if time.monotonic() > deadline:
                raise RuntimeError("postgres did not get ready")
            time.sleep(0.1)

    def _as_user(self, command: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *command] if self.as_root else command

    def _run(self, command: list[str]) -> None:
        subprocess.run(self._as_user(command), check=True, capture_output=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh database's URL (each test its own tables)."""
        import psycopg

        name = "t" + os.urandom(6).hex()
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user={self.user} dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_connections(self, database: str | None = None) -> int:
        """``pg_terminate_backend`` every other client connection (of ``database``, or all)."""
        import psycopg

        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user={self.user} dbname=postgres", autocommit=True
        ) as conn:
            where = "pid <> pg_backend_pid() AND backend_type = 'client backend'"
            params: tuple[str, ...] = ()
            if database:
                where += " AND datname = %s"
                params = (database,)
            rows = conn.execute(
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE {where}", params
            ).fetchall()
        return len(rows)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
