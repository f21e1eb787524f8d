"""`make generate` vs openapi-python-client on the same spec, in one run (from scratch <= 0.5x, up to date <= 0.2x).

openapi-python-client needs OpenAPI 3, so the core document is converted with the npm package
swagger2openapi first (not timed). Both tools are installed into bench/.work on first use:

    python3 -m venv bench/.work/opc && bench/.work/opc/bin/pip install openapi-python-client
    (cd bench/.work && npm install swagger2openapi)

Ours is timed twice: from scratch (an empty output directory: every file rendered and formatted by
black) and regenerating over an up-to-date package (what `make generate` does when little changed:
unchanged files are reused, see generator/sage_codegen/render.py).
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / ".work"
OPC = WORK / "opc" / "bin" / "openapi-python-client"
S2O = WORK / "node_modules" / ".bin" / "swagger2openapi"
REPEAT = 3
COLD_TARGET = 0.5  # from scratch, against openapi-python-client on the core document alone
WARM_TARGET = 0.2  # regenerating over an up-to-date package


def verdict(ratio: float, target: float) -> str:
    return "ok" if ratio <= target else "OVER TARGET"


def ensure_tools() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    if not OPC.exists():
        subprocess.run([sys.executable, "-m", "venv", str(WORK / "opc")], check=True)
        subprocess.run(
            [str(WORK / "opc" / "bin" / "pip"), "install", "-q", "openapi-python-client"],
            check=True,
        )
    if not S2O.exists():
        subprocess.run(
            ["npm", "install", "--silent", "--no-audit", "--no-fund", "swagger2openapi"],
            cwd=WORK,
            check=True,
        )


def timed(cmd: list[str], **kwargs: object) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs)  # type: ignore[call-overload]
    return time.perf_counter() - start


def size(directory: Path) -> tuple[int, int]:
    files = list(directory.rglob("*.py"))
    return len(files), sum(p.read_text(encoding="utf-8").count("\n") for p in files)


def main() -> None:
    ensure_tools()
    tmp = Path(tempfile.mkdtemp(prefix="bench-generate-"))
    openapi3 = tmp / "accounts.openapi.json"
    subprocess.run(
        [str(S2O), str(ROOT / "spec" / "accounts.swagger.json"), "-o", str(openapi3)], check=True
    )
    codegen = [str(ROOT / ".venv" / "bin" / "sage-codegen"), "generate"]
    theirs, cold, warm = [], [], []
    for i in range(REPEAT):
        out_theirs = tmp / f"opc-{i}"
        theirs.append(
            timed(
                [
                    str(OPC),
                    "generate",
                    "--path",
                    str(openapi3),
                    "--output-path",
                    str(out_theirs),
                    "--overwrite",
                ]
            )
        )
        out_ours = tmp / f"ours-{i}" / "sage_accounting"
        cold.append(timed([*codegen, "--out", str(out_ours)]))
        warm.append(timed([*codegen, "--out", str(out_ours)]))
    t, c, w = (statistics.median(x) for x in (theirs, cold, warm))
    their_files, their_lines = size(tmp / "opc-0")
    our_files, our_lines = size(tmp / "ours-0" / "sage_accounting")
    print(
        f"openapi-python-client: {t:.2f} s, {their_lines} lines in {their_files} files (core document only)"
    )
    print(
        f"sage-codegen from scratch: {c:.2f} s = {c / t:.2f}x (target <= {COLD_TARGET}x) "
        f"{verdict(c / t, COLD_TARGET)}, {our_lines} lines in {our_files} files (both documents)"
    )
    print(
        f"sage-codegen regenerating an up-to-date package: {w:.2f} s = {w / t:.2f}x "
        f"(target <= {WARM_TARGET}x) {verdict(w / t, WARM_TARGET)}"
    )
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
