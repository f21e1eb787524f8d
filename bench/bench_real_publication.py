"""Sage's real module publication (modules-2025-11) against the pinned spec, in one run: a full
generation from scratch of each (load, IR, render, black; into temporary packages) and the diff of
the pinned spec against the folder vs the pinned spec against itself. Figures for information:
ratios to the pinned spec, measured interleaved in the same run."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from _timing import interleaved, report
from click.testing import CliRunner

from sage_codegen.cli import main as cli

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "spec" / "modules-2025-11"
PINNED = ROOT / "spec"
REPEAT = 3


def main() -> bool:
    work = Path(tempfile.mkdtemp(prefix="bench-real-"))
    try:
        real_spec = work / "spec"
        locked = CliRunner().invoke(
            cli, ["spec", "lock", "--source", str(REAL), "--spec-dir", str(real_spec)]
        )
        assert locked.exit_code == 0, locked.output
        runs = iter(range(10_000))

        def generate(spec_dir: Path) -> None:
            out = work / f"out{next(runs)}" / "sage_accounting"  # from scratch: nothing to reuse
            subprocess.run(
                [str(ROOT / ".venv" / "bin" / "sage-codegen"), "generate", "--spec-dir",
                 str(spec_dir), "--out", str(out), "--jobs", "2"],
                check=True, capture_output=True,
            )  # fmt: skip

        def diff(new: Path) -> None:
            result = CliRunner().invoke(
                cli, ["diff", str(PINNED), "--against", str(new), "--fail-on", "never"]
            )
            assert result.exit_code == 0, result.output

        real, pinned = interleaved(lambda: generate(real_spec), lambda: generate(PINNED), REPEAT)
        report("generate modules-2025-11 vs the pinned spec (from scratch)", real, pinned, None)
        real_diff, self_diff = interleaved(lambda: diff(REAL), lambda: diff(PINNED), REPEAT)
        report("diff pinned -> modules-2025-11 vs pinned -> pinned", real_diff, self_diff, None)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return True


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
