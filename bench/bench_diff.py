"""Diffing the two full real releases (2022-05 -> current), end to end as the command does it
(load, IR, compare, report), vs only loading both sides' documents. Target: under 2 s wall."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from sage_codegen.cli import main as cli
from sage_codegen.loader import load_spec

ROOT = Path(__file__).resolve().parents[1]
OLD = ROOT.parent / "shared" / "spec" / "history" / "2022-05"
NEW = ROOT / "spec"
REPEAT = 5


def main() -> bool:
    diff_times, load_times = [], []
    for _ in range(REPEAT):
        started = time.perf_counter()
        load_spec([OLD]), load_spec([NEW])
        load_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        result = CliRunner().invoke(
            cli, ["diff", str(OLD), "--against", str(NEW), "--fail-on", "never"]
        )
        diff_times.append(time.perf_counter() - started)
        assert result.exit_code == 0, result.output
    command_times = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run(
            [str(ROOT / ".venv" / "bin" / "sage-codegen"), "diff", str(OLD), "--against", str(NEW)],
            stdout=subprocess.DEVNULL,
            check=False,
        )
        command_times.append(time.perf_counter() - started)
    diff, load = statistics.median(diff_times), statistics.median(load_times)
    command = statistics.median(command_times)
    verdict = "ok" if command < 2.0 else "OVER TARGET"
    print(
        f"diff of the real releases: `sage-codegen diff` {command:.3f} s wall (target < 2 s) "
        f"{verdict}; in process {diff:.3f} s vs loading both sides alone {load:.3f} s "
        f"= {diff / load:.2f}x"
    )
    return command < 2.0


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
