"""What the command line's tests share: running the command in-process or as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from sage_accounting.cli._app import cli

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False, env=env)


def one_error_line(result: Result) -> str:
    """The error: one line, the last on stderr (login prints its URL before)."""
    lines = result.stderr.strip().splitlines()
    errors = [x for x in lines if x.startswith("error: ")]
    assert errors == lines[-1:], result.stderr
    return errors[0]


def sandbox_env(sandbox: Any, config_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a user pointed at ``sandbox`` (and nothing from the machine's SAGE_*)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAGE_")}
    env.update(
        SAGE_ACCESS_TOKEN=str(sandbox.issue_tokens(expires_in=3600)["access_token"]),
        SAGE_BASE_URL=sandbox.base_url,
        SAGE_CONFIG_DIR=str(config_dir),
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


def command(*args: str) -> list[str]:
    """``sage-accounting ARGS`` as a process (the console script's own entry point)."""
    return [sys.executable, "-c", "from sage_accounting.cli import main; main()", *args]


def run_process(
    *args: str, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(*args), env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )
