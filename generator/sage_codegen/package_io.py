"""The generated package on disk: its manifest, the plan that brings it up to date, the write.

``plan_package`` compares a rendered package with what is on disk and says what to write, what
to delete and what is unchanged; ``generate`` applies the plan (``apply_plan``) and ``check``
reports it, so the two can never disagree. Files are replaced one by one through a temporary
file (a reader never sees half a file), stale generated files are deleted, and the manifest is
written last. The generator never writes into the hand-written folders of the package: a plan
that would is refused with ``GeneratorError`` naming the path.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import GeneratorError
from .formatting import BLACK_VERSION
from .ir import Api

MANIFEST = "_manifest.json"
# Folders of the package written by hand (the runtime, the fake server, the agents' tools, the
# command line, the database sync, the shared stores): the generator neither writes nor deletes
# anything under them.
HAND_WRITTEN = ("_runtime", "testing", "agents", "cli", "sync", "scale")


@dataclass(frozen=True)
class RenderedFile:
    text: str
    rendered_sha256: str  # of the template output before black: the key for reuse


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def manifest_for(api: Api, files: Mapping[str, RenderedFile]) -> str:
    data = {
        "generator": "sage-codegen",
        "note": "Generated files of this package, with their sha256. Do not edit them by hand.",
        "spec": {"digest": api.spec_digest, "documents": dict(api.spec_files)},
        "black": BLACK_VERSION,
        "files": {
            path: {"sha256": sha256(f.text), "rendered_sha256": f.rendered_sha256}
            for path, f in files.items()
        },
    }
    return json.dumps(data, indent=2) + "\n"


def read_manifest_data(package_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((package_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def read_manifest(package_dir: Path) -> list[str]:
    """The generated files the package's manifest lists."""
    files = read_manifest_data(package_dir).get("files")
    return sorted(files) if isinstance(files, dict) else []


def intact(package_dir: Path) -> str | None:
    """The manifest's text if every file it lists is on disk with its recorded sha256."""
    try:
        manifest = (package_dir / MANIFEST).read_text(encoding="utf-8")
        files = json.loads(manifest).get("files")
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(files, dict):
        return None
    for path, entry in files.items():
        try:
            text = (package_dir / path).read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError):
            return None
        if not isinstance(entry, dict) or sha256(text) != entry.get("sha256"):
            return None
    return manifest


def reusable_files(package_dir: Path) -> dict[tuple[str, str], str]:
    """(path, rendered sha) -> formatted text, for files the last generation left intact (and
    formatted with this black): a render equal to the last one needs no black again."""
    manifest = read_manifest_data(package_dir)
    if manifest.get("black") != BLACK_VERSION:
        return {}
    reusable = {}
    for path, entry in (manifest.get("files") or {}).items():
        if not isinstance(entry, dict):
            continue
        try:
            text = (package_dir / path).read_text(encoding="utf-8")
        except OSError:
            continue
        if sha256(text) == entry.get("sha256"):
            reusable[(path, str(entry.get("rendered_sha256")))] = text
    return reusable


def refuse_hand_written(path: str, action: str, why: str = "") -> None:
    """Raise if ``path`` (relative to the package) lies in a hand-written folder."""
    folder = path.split("/", 1)[0]
    if folder in HAND_WRITTEN:
        raise GeneratorError(f"refusing to {action} {path}{why}: {folder}/ is written by hand")


@dataclass(frozen=True)
class Plan:
    """What brings a package directory to a rendered package."""

    files: Mapping[str, RenderedFile]  # every generated file, as it must be
    manifest: str  # the manifest's text, as it must be
    missing: tuple[str, ...]  # to write: not on disk
    differs: tuple[str, ...]  # to write: on disk with other content
    stale: tuple[str, ...]  # to delete: listed by the old manifest, no longer generated
    manifest_differs: bool

    @property
    def up_to_date(self) -> bool:
        return not (self.missing or self.differs or self.stale or self.manifest_differs)


def plan_package(api: Api, files: Mapping[str, RenderedFile], package_dir: Path) -> Plan:
    """Compare ``files`` with ``package_dir``; refuses any path in a hand-written folder, among
    the files to write or the old manifest's entries (which a plan would delete)."""
    old = read_manifest(package_dir)
    for path in files:
        refuse_hand_written(path, "write")
    for path in old:
        refuse_hand_written(path, "delete", " (the old manifest lists it)")
    missing, differs = [], []
    for path, rendered in files.items():
        target = package_dir / path
        if not target.is_file():
            missing.append(path)
        elif target.read_text(encoding="utf-8") != rendered.text:
            differs.append(path)
    stale = [path for path in sorted(set(old) - set(files)) if (package_dir / path).exists()]
    manifest = manifest_for(api, files)
    manifest_path = package_dir / MANIFEST
    manifest_differs = (
        not manifest_path.is_file() or manifest_path.read_text(encoding="utf-8") != manifest
    )
    return Plan(files, manifest, tuple(missing), tuple(differs), tuple(stale), manifest_differs)


def apply_plan(plan: Plan, package_dir: Path) -> None:
    """Write what the plan says is missing or different, delete the stale files, then write the
    manifest (last: an interrupted run is redone, not trusted)."""
    package_dir.mkdir(parents=True, exist_ok=True)
    for path in plan.missing + plan.differs:
        write_atomic(package_dir / path, plan.files[path].text)
    for path in plan.stale:
        (package_dir / path).unlink(missing_ok=True)
    if plan.manifest_differs:
        write_atomic(package_dir / MANIFEST, plan.manifest)


def write_atomic(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
    os.replace(tmp, target)


def write_package(api: Api, files: Mapping[str, RenderedFile], package_dir: Path) -> list[str]:
    """Bring ``package_dir`` to ``files``; returns the stale paths deleted."""
    plan = plan_package(api, files, package_dir)
    apply_plan(plan, package_dir)
    return list(plan.stale)
