"""`make generate` vs openapi-python-client on the same spec, in one run (from scratch <= 0.5x, up to date <= 0.2x).

openapi-python-client needs OpenAPI 3, so the core document is converted with the npm package
swagger2openapi first (not timed). Both tools are installed into bench/.work on first use:

    python3 -m venv bench/.work/opc && bench/.work/opc/bin/pip install openapi-python-client
    (cd bench/.work && npm install swagger2openapi)

Ours is timed twice: from scratch (an empty output directory: every file rendered and formatted by
black) and regenerating over an up-to-date package (what `make generate` does when little changed:
unchanged files are reused, see generator/sage_codegen/render.py).

The black-form review (``--black-form``, also run first by ``main``; needs nothing installed): the
generator writes black's layout by hand in a few places so that black need not read a file. Each
is timed against rendering that piece plainly and letting black format what then needs it: a
from-scratch ``sage-codegen generate`` per variant, in a fresh process (black's import and the
worker pool counted as a real run pays them), interleaved, timed in CPU seconds (the process
and black's workers: wall time on a shared machine is mostly the neighbours'), and the variant's
output checked byte-identical to the hand-written one. A hand-written form stays only where
dropping it costs more than ``PAYS_OVER`` of the whole generation's CPU time.
"""

from __future__ import annotations

import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / ".work"
OPC = WORK / "opc" / "bin" / "openapi-python-client"
S2O = WORK / "node_modules" / ".bin" / "swagger2openapi"
REPEAT = 3
COLD_TARGET = 0.5  # from scratch, against openapi-python-client on the core document alone
WARM_TARGET = 0.2  # regenerating over an up-to-date package
PAYS_OVER = 0.10  # a hand-written form stays if rendering it plainly + black costs more than this


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


def cpu_timed(cmd: list[str]) -> float:
    """CPU seconds (user + system) of ``cmd`` and the processes it waited for (black's workers):
    what the work costs, whatever else holds the shared cores meanwhile."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def size(directory: Path) -> tuple[int, int]:
    files = list(directory.rglob("*.py"))
    return len(files), sum(p.read_text(encoding="utf-8").count("\n") for p in files)


# -- the black-form review ---------------------------------------------------------------------


def _plain_annotated_name(
    name: str, annotation: str, indent: int, default: str | None = None, trailing: str = ""
) -> str:
    assigned = f" = {default}" if default is not None else ""
    return f"{' ' * indent}{name}: {annotation}{assigned}{trailing}"


def _plain_from_import(module: str, names: Iterable[str], indent: int = 0) -> str:
    return f"{' ' * indent}from {module} import {', '.join(names)}"


def _plain_query_entry(p: Any, indent: int = 12) -> str:
    from sage_codegen.runtime_contract import query_param

    return f"{' ' * indent}{json.dumps(p.name)}: {query_param(p)},"


def _plain_wrapped(expression: str, indent: int, prefix: str = "", suffix: str = "") -> str:
    return f"{' ' * indent}{prefix}{expression}{suffix}"


# Each hand-written form the generator keeps (generator/sage_codegen/black_form.py, imports.py):
# where the renderer reaches it, and its plain counterpart (the same tokens on one line, for black
# to lay out). A variant patches those module globals in its own process.
PLAIN_FORMS: dict[str, list[tuple[str, Callable[..., str]]]] = {
    "import lines (imports.from_import)": [
        ("sage_codegen.imports.from_import", _plain_from_import),
        ("sage_codegen.render.from_import", _plain_from_import),
    ],
    "annotations (black_form.annotated_name)": [
        ("sage_codegen.render.annotated_name", _plain_annotated_name),
        ("sage_codegen.typed_dicts.annotated_name", _plain_annotated_name),
    ],
    "query entries (black_form.dict_entry)": [
        ("sage_codegen.render.query_entry", _plain_query_entry),
    ],
    "the client's return lines (black_form.wrapped)": [
        ("sage_codegen.render.wrapped", _plain_wrapped),
    ],
}


def run_variant(variant: str, out: str) -> None:
    """One from-scratch generation into ``out``, the named forms rendered plainly ("" = none)."""
    from sage_codegen.cli import main as codegen

    with ExitStack() as patches:
        for name in filter(None, variant.split(",")):
            for target, plain in PLAIN_FORMS[name]:
                patches.enter_context(mock.patch(target, plain))
        codegen(["generate", "--out", out], standalone_mode=False)


def _outputs(package: Path) -> dict[str, bytes]:
    """What users get: every file but the manifest and the stamp (they record the unformatted
    renders' digests, which differ by design)."""
    return {
        str(p.relative_to(package)): p.read_bytes()
        for p in sorted(package.rglob("*"))
        if p.is_file() and not p.name.startswith("_manifest") and ".stamp" not in p.name
    }


def black_form_review(repeat: int = REPEAT) -> None:
    shipped = "hand-written (as shipped)"
    variants = {shipped: "", **{name: name for name in PLAIN_FORMS}}
    variants["every form plain"] = ",".join(PLAIN_FORMS)
    times: dict[str, list[float]] = {name: [] for name in variants}
    outputs: dict[str, dict[str, bytes]] = {}
    tmp = Path(tempfile.mkdtemp(prefix="bench-black-form-"))
    try:
        for i in range(repeat):
            for n, (name, variant) in enumerate(variants.items()):
                out = tmp / f"{i}-{n}" / "sage_accounting"
                cmd = [sys.executable, __file__, "--variant", variant, "--out", str(out)]
                times[name].append(cpu_timed(cmd))
                outputs.setdefault(name, _outputs(out))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    base = statistics.median(times[shipped])
    print(f"from-scratch generation, hand-written form as shipped: {base:.2f} s CPU (baseline)")
    for name in list(variants)[1:]:
        t = statistics.median(times[name])
        extra = (t - base) / base
        print(
            f"  {name} rendered plainly + black: {t:.2f} s CPU = {t / base:.2f}x, {extra:+.0%}: "
            + ("pays, kept" if extra > PAYS_OVER else "DOES NOT PAY")
            + ("" if outputs[name] == outputs[shipped] else "; OUTPUT DIFFERS from the shipped")
        )


def main() -> None:
    black_form_review()
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
    if sys.argv[1:2] == ["--variant"]:
        run_variant(sys.argv[2], sys.argv[4])
    elif sys.argv[1:] == ["--black-form"]:
        black_form_review()
    else:
        main()
