"""What the loader and IR builder decided on the way: warnings and notes, each with its place.

A spec fault that has one safe reading is read that way and recorded here as a warning naming
``file#pointer``; ``strict`` turns the first warning into the :class:`SpecError` it stands for.
Notes record decisions that are not faults (an overlay action applied, a response model chosen)
so ``generate`` and ``inspect`` can list them; they never fail a run.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from .errors import SpecError


@dataclass(frozen=True)
class SpecWarning:
    kind: str  # a short, stable name for the class of fault, e.g. "json-syntax"
    file: str
    pointer: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}#{self.pointer}: {self.message}"


@dataclass
class Report:
    strict: bool = False
    warnings: list[SpecWarning] = field(default_factory=list)
    notes: list[SpecWarning] = field(default_factory=list)

    def warn(self, kind: str, file: str, json_pointer: str, message: str) -> None:
        """Record a tolerated fault; in strict mode it is the error it would otherwise be."""
        if self.strict:
            raise SpecError(file, json_pointer, message)
        self.warnings.append(SpecWarning(kind, file, json_pointer, message))

    def note(self, kind: str, file: str, json_pointer: str, message: str) -> None:
        self.notes.append(SpecWarning(kind, file, json_pointer, message))

    def summary(self) -> list[str]:
        """Lines for a command's output: a count per kind, then every warning in full."""
        if not self.warnings:
            return ["spec warnings: none"]
        counts = Counter(w.kind for w in self.warnings)
        lines = [
            f"spec warnings: {len(self.warnings)} ("
            + ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
            + ")"
        ]
        lines.extend(f"  warning [{w.kind}] {w}" for w in self.warnings)
        return lines
