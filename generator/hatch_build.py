"""Ships the templates in the sage-codegen wheel as ``sage_codegen/templates/``.

They live in the repository's top-level ``templates/`` (beside ``generator/``), and at the root of
an sdist (``pyproject.toml`` force-includes them there), so a wheel built from either has them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class TemplatesHook(BuildHookInterface):  # type: ignore[type-arg]
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if version == "editable":  # a checkout's generator reads the top-level templates/
            return
        root = Path(self.root)
        for templates in (root / "templates", root.parent / "templates"):
            if templates.is_dir():
                build_data["force_include"][str(templates)] = "sage_codegen/templates"
                return
        raise FileNotFoundError(f"no templates/ in {root} or beside it")
