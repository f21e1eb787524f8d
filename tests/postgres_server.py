"""A throwaway PostgreSQL server for tests: Debian's binaries, a temp data directory, 127.0.0.1
on a free port (other suites may be running theirs at the same moment), stopped at the end.

As root (CI), the server runs as the ``postgres`` user (PostgreSQL refuses to run as root).
Tests that need it skip when no PostgreSQL is installed; ``.ci/run`` installs it.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def postgres_server() -> Iterator[str]:
    """A running server; yields its URL (user ``sage``, password ``sage``, database ``sage``)."""
    bin_dir = binaries()
    assert bin_dir is not None
    root = Path(tempfile.mkdtemp(prefix="sage-pg-"))
    data = root / "data"
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    (root / "pw").write_text("sage\n")  # dlt wants a password in the URL (trust ignores it)
    if os.geteuid() == 0:
        shutil.chown(root / "pw", "postgres")
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE, "check": True}
    subprocess.run([*as_user, str(bin_dir / "initdb"), "-D", str(data), "-U", "sage",
                    "-A", "trust", "-E", "UTF8", "--pwfile", str(root / "pw")], **quiet)  # type: ignore[call-overload]  # fmt: skip
    port = _free_port()
    options = f"-h 127.0.0.1 -p {port} -k {root} -c fsync=off -c max_connections=60"
    subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options,
                    "-l", str(root / "log"), "-w", "start"], **quiet)  # type: ignore[call-overload]  # fmt: skip
    try:
        subprocess.run([*as_user, str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port),
                        "-U", "sage", "sage"], **quiet)  # type: ignore[call-overload]  # fmt: skip
        yield f"postgresql://sage:sage@127.0.0.1:{port}/sage"
    finally:
        subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                        "-w", "stop"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)
