#!/usr/bin/env bash
# `make dist-check`: the two distributions as users and maintainers install them, not editable.
#
#   1. build both wheels (sdist first, then the wheel from it: the sdist must be complete);
#   2. a fresh venv with the SDK wheel alone (httpx and pydantic from the registry):
#      mypy --strict on tests/typing/ against the installed package, then smoke_installed_sdk.py;
#   3. another fresh venv with both wheels: `sage-codegen generate` from the installed generator
#      (its templates found inside the wheel) writes a package identical to the committed one.
#
# Uses .venv's build and mypy (make install); the spec must be fetched (make spec).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BIN="$(cd "${BIN:-$ROOT/.venv/bin}" && pwd)"
PYTHON="${PYTHON:-python3}"
WORK="${DIST_WORK:-$ROOT/build/dist-check}"
started=$SECONDS
step() { printf '\n== %s (%ss)\n' "$*" $((SECONDS - started)); }

rm -rf "$WORK"
mkdir -p "$WORK/dist"

step "building the sage-accounting and sage-codegen wheels"
for project in "$ROOT" "$ROOT/generator"; do
    "$BIN/python" -m build --no-isolation --outdir "$WORK/dist" "$project" >"$WORK/build.log" 2>&1 \
        || { cat "$WORK/build.log"; exit 1; }
done
ls "$WORK/dist"
sdk_wheel=("$WORK"/dist/sage_accounting-*.whl)
codegen_wheel=("$WORK"/dist/sage_codegen-*.whl)

step "a fresh venv holding only the SDK wheel"
# Without pip of its own (.venv's pip installs into it): nothing there but the wheel and its deps.
"$PYTHON" -m venv --without-pip "$WORK/sdk"
pip_into() { "$BIN/pip" --python "$1/bin/python" "${@:2}" 2> >(grep -v "is ignored: it is neither" >&2); }
pip_into "$WORK/sdk" install --quiet "${sdk_wheel[0]}"
pip_into "$WORK/sdk" list --format=freeze

step "mypy --strict on tests/typing against the installed package"
# From $WORK, with no MYPYPATH: the only sage_accounting mypy can find is the venv's.
(cd "$WORK" && env -u MYPYPATH "$BIN/mypy" --config-file "$ROOT/pyproject.toml" \
    --cache-dir "$WORK/.mypy_cache" --python-executable "$WORK/sdk/bin/python" \
    "$ROOT/tests/typing")

step "smoke test of the installed SDK against its sandbox"
(cd "$WORK" && "$WORK/sdk/bin/python" "$ROOT/tests/dist/smoke_installed_sdk.py")

step "a fresh venv with the sage-codegen wheel: regenerating the package"
"$PYTHON" -m venv --without-pip "$WORK/codegen"
pip_into "$WORK/codegen" install --quiet "${sdk_wheel[0]}" "${codegen_wheel[0]}"
(cd "$WORK" && "$WORK/codegen/bin/sage-codegen" generate --spec-dir "$ROOT/spec" \
    --out "$WORK/regenerated/sage_accounting")
"$WORK/codegen/bin/python" - "$WORK/regenerated/sage_accounting" "$ROOT/generated/sage_accounting" <<'PY'
"""Every file the installed generator wrote equals the committed one, and nothing is missing."""
import json
import sys
from pathlib import Path

import sage_codegen

new, committed = Path(sys.argv[1]), Path(sys.argv[2])
where = Path(sage_codegen.__file__).resolve()
if "site-packages" not in where.parts:
    sys.exit(f"dist-check FAILED: sage_codegen imported from {where}, not the wheel")
files = sorted(json.loads((new / "_manifest.json").read_text())["files"]) + ["_manifest.json"]
differ = [f for f in files if (new / f).read_bytes() != (committed / f).read_bytes()]
if differ:
    sys.exit(f"dist-check FAILED: the wheel's generator wrote {len(differ)} different files: {differ[:5]}")
print(f"ok: the sage-codegen wheel regenerated all {len(files)} files identically")
PY

step "dist-check passed"
