"""A copy of the project as a fresh clone has it, to run the maintainer's commands in.

Sage's real publications are generated in a copy, never in the checkout: the committed package
stays generated from the pinned spec (``make check-generated``). The copy holds the files git
tracks (and new ones not ignored), so not ``spec/``'s documents, ``.venv`` or build output; its
``.venv`` runs this checkout's interpreter with the copy's own ``generator/`` and ``generated/``
first on the path, and ``../shared`` beside it links to the real one, standing in for the ``make install`` a clone would run (a minute of pip that
tests the registry, not the generator).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_SPEC = ROOT.parent / "shared" / "spec"


def tracked_files(root: Path = ROOT) -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        check=True,
        capture_output=True,
    ).stdout.decode()
    return sorted(name for name in listed.split("\0") if name and (root / name).is_file())


@dataclass(frozen=True)
class Run:
    command: str
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@dataclass(frozen=True)
class ProjectCopy:
    root: Path

    @property
    def python(self) -> Path:
        return self.root / ".venv" / "bin" / "python"

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "STRICT")}
        roots = (self.root / "generator", self.root / "generated", self.root / "src")
        env["PYTHONPATH"] = os.pathsep.join(map(str, roots))  # the package has two roots
        return env

    def sh(self, command: str, timeout: float = 300) -> Run:
        """A shell command in the copy's root, as a maintainer types it."""
        done = subprocess.run(
            command,
            shell=True,
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return Run(command, done.returncode, done.stdout, done.stderr)


def copy_project(dest: Path) -> ProjectCopy:
    """The project's files in ``dest``, with a ``.venv`` that runs the copy's own code."""
    for name in tracked_files():
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    bin_dir = dest / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    python = bin_dir / "python"
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    codegen = bin_dir / "sage-codegen"
    codegen.write_text(
        f'#!/bin/sh\nexec "{python}" -c '
        "'import sys; from sage_codegen.cli import main; sys.exit(main())' \"$@\"\n"
    )
    for script in (python, codegen):
        script.chmod(0o755)
    (dest / ".venv" / ".installed").touch()  # newer than the pyproject files: no reinstall
    shared = dest.parent / "shared"  # beside the copy as beside a clone: ../shared/spec/...
    if not shared.exists():
        shared.symlink_to(SHARED_SPEC.parent, target_is_directory=True)
    return ProjectCopy(dest)
