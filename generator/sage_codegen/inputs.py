"""The digest of everything a generation reads, so an up-to-date ``generate`` can stop early.

A generation is a function of the locked spec documents, the overlays, the generator's own
source and templates, the runtime's contract module, and the versions of the tools that shape the output (Python, black,
Jinja, the spec parsers). ``generate`` records their sha256 in a stamp beside the package
(``generated/.sage_accounting.stamp.json``, never committed: the versions are this machine's),
with the sha256 of the manifest it wrote. The next ``generate`` stops early only when the digest
is the same, the manifest is the one stamped, and every file the manifest lists is on disk with
its recorded sha256: the digest is never trusted alone, a file edited by hand is regenerated.
``check`` always renders (it is CI's proof that the committed package is what the generator
writes).

This module imports nothing heavy: it decides before the loader, Jinja or black are imported.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import platform
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .package_io import intact, sha256, write_atomic
from .spec_lock import read_lock

GENERATOR_DIR = Path(__file__).resolve().parent


def _default_templates() -> Path:
    """The wheel's ``sage_codegen/templates/``, else the checkout's top-level ``templates/``."""
    shipped = GENERATOR_DIR / "templates"
    return shipped if shipped.is_dir() else GENERATOR_DIR.parents[1] / "templates"


DEFAULT_TEMPLATES = _default_templates()
# Distributions whose behaviour shapes the generated files.
TOOLS = ("black", "jinja2", "openapi-pydantic", "genson", "python-jsonpath")


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def runtime_contract_file() -> list[Path]:
    """The runtime module whose names the generator spells (QueryKind: see runtime_contract.py),
    found without importing the SDK: the first ``sage_accounting/_runtime/_operation.py`` on
    sys.path, as the package's own ``__path__`` (pkgutil.extend_path) finds it, in a wheel or in
    a checkout's hand-written root."""
    for entry in sys.path:
        candidate = Path(entry or ".", "sage_accounting", "_runtime", "_operation.py")
        if candidate.is_file():
            return [candidate]
    return []


def input_files(spec_dir: Path, templates: Path) -> list[Path]:
    """Every file a generation reads, in a fixed order."""
    lock = spec_dir / "spec.lock.json"
    documents = [spec_dir / doc.name for doc in read_lock(lock)]
    overlays_dir = spec_dir / "overlays"
    overlays = sorted(overlays_dir.glob("*.json")) if overlays_dir.is_dir() else []
    generator = sorted(GENERATOR_DIR.glob("*.py"))
    template_files = sorted(p for p in templates.rglob("*") if p.is_file())
    return [lock, *documents, *overlays, *generator, *template_files, *runtime_contract_file()]


def input_digest(spec_dir: Path, templates: Path) -> str:
    """sha256 over the inputs' names and bytes and the tools' versions."""
    digest = hashlib.sha256()
    for tool in ("python", *TOOLS):
        version = platform.python_version() if tool == "python" else _version(tool)
        digest.update(f"{tool}=={version}\n".encode())
    for path in input_files(spec_dir, templates):
        data = path.read_bytes()
        digest.update(f"{path.name} {len(data)}\n".encode())
        digest.update(data)
    return digest.hexdigest()


@dataclass(frozen=True)
class Stamp:
    """What the last ``generate`` into a package directory read and printed."""

    inputs: str  # input_digest
    manifest_sha256: str  # of the manifest it wrote
    spec_warnings: int
    messages: tuple[str, ...]  # the lines it printed on stderr, printed again when skipping


def stamp_path(package_dir: Path) -> Path:
    return package_dir.parent / f".{package_dir.name}.stamp.json"


def write_stamp(package_dir: Path, stamp: Stamp) -> None:
    data = {
        "note": "sage-codegen: the inputs of the last generation here (not committed).",
        "inputs": stamp.inputs,
        "manifest_sha256": stamp.manifest_sha256,
        "spec_warnings": stamp.spec_warnings,
        "messages": list(stamp.messages),
    }
    write_atomic(stamp_path(package_dir), json.dumps(data, indent=2) + "\n")


def up_to_date(package_dir: Path, inputs: str) -> Stamp | None:
    """The stamp, if the package was generated from these inputs and is intact on disk."""
    try:
        data = json.loads(stamp_path(package_dir).read_text(encoding="utf-8"))
        stamp = Stamp(
            inputs=str(data["inputs"]),
            manifest_sha256=str(data["manifest_sha256"]),
            spec_warnings=int(data["spec_warnings"]),
            messages=tuple(str(line) for line in data["messages"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not inputs or stamp.inputs != inputs:
        return None
    manifest = intact(package_dir)
    if manifest is None or sha256(manifest) != stamp.manifest_sha256:
        return None
    return stamp


def stamp_for(inputs: str, manifest: str, spec_warnings: int, messages: Sequence[str]) -> Stamp:
    return Stamp(inputs, sha256(manifest), spec_warnings, tuple(messages))
