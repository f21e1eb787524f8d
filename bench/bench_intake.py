"""Reading Sage's spec as published today (sixteen module documents with ten faults, built from
the current two documents by tests/module_fixture.py) vs the current two documents: generate
and diff, timed interleaved in one run and printed as ratios; then the folder's warnings summary.

    .venv/bin/python bench/bench_intake.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from _timing import interleaved  # noqa: E402
from module_fixture import build_module_folder  # noqa: E402

from sage_codegen.cli import main as cli  # noqa: E402
from sage_codegen.ir_build import build_api  # noqa: E402
from sage_codegen.loader import load_spec  # noqa: E402
from sage_codegen.report import Report  # noqa: E402
from sage_codegen.spec_lock import read_lock, verify  # noqa: E402

SPEC = ROOT / "spec"
REPEAT_LOAD, REPEAT_COMMAND = 5, 3


def _invoke(args: list[str], codes: tuple[int, ...] = (0,)) -> None:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code in codes, result.output


def main() -> bool:
    current = verify(SPEC, read_lock(SPEC / "spec.lock.json"))
    documents = [json.loads(p.read_text(encoding="utf-8")) for p in current]
    accounts = next(d for d in documents if "/contacts" in d["paths"])
    users = next(d for d in documents if "/businesses" in d["paths"])
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        folder = build_module_folder(work / "modules", accounts, users).directory
        modules_spec = work / "modules-spec"
        _invoke(["spec", "lock", "--source", str(folder), "--spec-dir", str(modules_spec)])
        runs = iter(range(1000))

        def generate(spec_dir: Path) -> Callable[[], None]:
            return lambda: _invoke(
                ["generate", "--spec-dir", str(spec_dir), "--out", str(work / f"out{next(runs)}")]
            )

        load_modules, load_two = interleaved(
            lambda: build_api(load_spec([folder])),
            lambda: build_api(load_spec(current)),
            REPEAT_LOAD,
        )
        gen_modules, gen_two = interleaved(generate(modules_spec), generate(SPEC), REPEAT_COMMAND)
        diff_modules, diff_same = interleaved(
            lambda: _invoke(["diff", str(SPEC), "--against", str(folder)], codes=(1,)),
            lambda: _invoke(["diff", str(SPEC), "--against", str(SPEC)]),
            REPEAT_COMMAND,
        )
        report = Report(warnings=list(build_api(load_spec([folder])).warnings))
    print(
        f"load+IR: two documents {load_two:.3f} s, module folder {load_modules:.3f} s "
        f"= {load_modules / load_two:.2f}x"
    )
    print(
        f"generate (fresh output, black included): two documents {gen_two:.2f} s, module folder "
        f"{gen_modules:.2f} s = {gen_modules / gen_two:.2f}x"
    )
    print(
        f"diff: current vs itself {diff_same:.3f} s, current vs module folder {diff_modules:.3f} s "
        f"= {diff_modules / diff_same:.2f}x"
    )
    print("\n".join(report.summary()))
    return True


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
