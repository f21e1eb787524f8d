"""The spec lock: which Sage documents the SDK is generated from, pinned by sha256.

``spec/spec.lock.json`` is committed; the documents themselves are Sage's and are copied into
``spec/`` (git-ignored) by ``make spec`` from a source directory, default ``../shared/spec/current``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path


class LockError(Exception):
    """The documents do not match the lock: missing, or a different sha256."""


@dataclass(frozen=True)
class LockedDocument:
    name: str
    sha256: str


def read_lock(lock_file: Path) -> list[LockedDocument]:
    data = json.loads(lock_file.read_text(encoding="utf-8"))
    return [LockedDocument(d["name"], d["sha256"]) for d in data["documents"]]


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def verify(directory: Path, documents: list[LockedDocument]) -> list[Path]:
    """Return the paths of the locked documents in ``directory``; raise LockError on any mismatch."""
    paths = []
    for doc in documents:
        path = directory / doc.name
        if not path.is_file():
            raise LockError(f"{path}: missing (the lock names {doc.name}); run `make spec`")
        actual = sha256_of(path)
        if actual != doc.sha256:
            raise LockError(
                f"{path}: sha256 {actual} does not match the lock ({doc.sha256}); "
                "if Sage published a new document, diff it and update spec/spec.lock.json"
            )
        paths.append(path)
    return paths


def fetch(source: Path, dest: Path, documents: list[LockedDocument]) -> list[Path]:
    """Copy the locked documents from ``source`` into ``dest`` after checking their hashes.

    The source is verified before anything is copied, so a bad source leaves ``dest`` as it was.
    When ``dest`` already holds exactly the locked documents, there is nothing to copy and the
    source is not read: ``make spec-lock SPEC_SOURCE=DIR && make generate`` works without
    naming DIR twice (the lock, not the source, says what the SDK is generated from).
    """
    try:
        return verify(dest, documents)
    except LockError:
        pass
    verify(source, documents)
    dest.mkdir(parents=True, exist_ok=True)
    for doc in documents:
        tmp = dest / f".{doc.name}.tmp"
        shutil.copyfile(source / doc.name, tmp)
        tmp.replace(dest / doc.name)
    return verify(dest, documents)


def write_lock(lock_file: Path, documents: list[Path]) -> list[LockedDocument]:
    """Pin ``documents`` (all in one folder) by name and sha256, sorted by name."""
    locked = sorted((LockedDocument(p.name, sha256_of(p)) for p in documents), key=lambda d: d.name)
    data = {
        "comment": (
            "Sage's Accounting v3.1 documents the SDK is generated from. `make spec` copies them "
            "here from SPEC_SOURCE and checks these hashes; `make spec-lock SPEC_SOURCE=DIR` "
            "writes this file. Provenance: ../shared/spec/SOURCES.md."
        ),
        "documents": [{"name": d.name, "sha256": d.sha256} for d in locked],
    }
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    lock_file.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return locked
