"""Overlays (OpenAPI Overlay 1.0): maintainers' fixes applied to Sage's documents before validation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import ACCOUNTS, write_spec_dir

from sage_codegen.errors import SpecError
from sage_codegen.ir_build import build_api
from sage_codegen.loader import load_spec
from sage_codegen.report import Report


def overlay(path: Path, actions: list[dict[str, Any]], **extra: Any) -> Path:
    doc = {"overlay": "1.0.0", "info": {"title": "fixes", "version": "1"}, "actions": actions}
    path.write_text(json.dumps({**doc, **extra}))
    return path


def test_actions_update_and_remove_in_file_order_and_each_is_reported(
    tmp_path: Path, raw_documents: dict[str, Any]
) -> None:
    raw_documents[ACCOUNTS]["definitions"]["Contact"]["properties"]["name"]["type"] = "strng"
    spec_dir = write_spec_dir(tmp_path / "spec", raw_documents)
    documents = sorted(spec_dir.glob("*.swagger.json"))
    with pytest.raises(SpecError, match="unknown type 'strng'"):
        load_spec(documents)
    first = overlay(tmp_path / "01-contact.json", [
        {"target": "$.definitions.Contact.properties.name", "update": {"type": "string", "description": "fixed"}},
        {"target": "$.definitions.Contact.properties.notes", "remove": True},
        {"target": "$.definitions.NoSuchThing", "remove": True},
    ], extends=ACCOUNTS)  # fmt: skip
    second = overlay(tmp_path / "02-again.json", [
        {"target": "$.definitions.Contact.properties.name", "update": {"description": "fixed twice"}},
    ])  # fmt: skip
    report = Report()
    api = build_api(load_spec(documents, overlays=[first, second], report=report))
    contact = next(m for m in api.models if m.name == "Contact")
    fields = {f.name: f for f in contact.fields}
    assert fields["name"].type.kind == "string" and fields["name"].description == "fixed twice"
    assert "notes" not in fields
    assert [(n.file, n.pointer) for n in report.notes if n.kind == "overlay"] == [
        (str(first), "/actions/0"), (str(first), "/actions/1"), (str(second), "/actions/0"),
    ]  # fmt: skip
    [unmatched] = [w for w in report.warnings if w.kind == "overlay-unmatched"]
    assert (unmatched.file, unmatched.pointer) == (str(first), "/actions/2")
    original = json.loads((spec_dir / ACCOUNTS).read_text())
    assert original["definitions"]["Contact"]["properties"]["name"]["type"] == "strng"


def test_an_overlay_that_is_not_one_is_refused(tmp_path: Path, spec_paths: list[Path]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"actions": []}))
    with pytest.raises(SpecError, match="not an OpenAPI Overlay"):
        load_spec(spec_paths, overlays=[bad])
    wrong = overlay(tmp_path / "wrong.json", [{"target": "$[", "remove": True}])
    with pytest.raises(SpecError) as err:
        load_spec(spec_paths, overlays=[wrong])
    assert err.value.pointer == "/actions/0/target"


def test_inspect_lists_each_overlay_action_from_the_spec_directory(
    tmp_path: Path, raw_documents: dict[str, Any]
) -> None:
    from click.testing import CliRunner

    from sage_codegen.cli import main

    spec_dir = write_spec_dir(tmp_path / "spec", raw_documents)
    (spec_dir / "overlays").mkdir()
    overlay(spec_dir / "overlays" / "10-notes.json", [
        {"target": "$.definitions.Contact.properties.notes", "update": {"description": "Free text."}},
    ])  # fmt: skip
    result = CliRunner().invoke(main, ["inspect", "--spec-dir", str(spec_dir)])
    assert result.exit_code == 0, result.output
    assert f"overlay {spec_dir / 'overlays' / '10-notes.json'}#/actions/0: update" in result.output
    assert "1 node(s)" in result.output
