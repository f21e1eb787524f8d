"""``sage-codegen diff --format changelog`` tells the truth (issue 20): breaking changes stand under
"Breaking", and whether a change reaches SDK users is decided from both sides' rendered output."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from conftest import ACCOUNTS, HISTORY_DIR, write_spec_dir

from sage_codegen.cli import main
from sage_codegen.diff import compare
from sage_codegen.ir import Api
from sage_codegen.ir_build import build_api
from sage_codegen.loader import load_spec


def sections(changelog: str) -> dict[str, list[str]]:
    """The entry's "### Title" sections and their "- " lines."""
    found: dict[str, list[str]] = {}
    current = ""
    for line in changelog.splitlines():
        if line.startswith("### "):
            current = line[4:]
            found[current] = []
        elif line.startswith("- ") and current:
            found[current].append(line[2:])
    return found


def changelog(old: str, new: str) -> tuple[int, dict[str, list[str]]]:
    result = CliRunner().invoke(main, ["diff", old, "--against", new, "--format", "changelog"])
    return result.exit_code, sections(result.output)


def test_the_real_release_lists_every_breaking_change_under_breaking(api: Api) -> None:
    """2022-05 -> current: Germany left 241 operations (and the models' availability): the
    command exits 1, and the entry says so under "Breaking", not among unchanged code."""
    code, entry = changelog(str(HISTORY_DIR), "spec")
    assert code == 1
    breaking = entry["Breaking"]
    expected = [c for c in compare(build_api(load_spec([HISTORY_DIR])), api).api]
    expected = [c for c in expected if c.level == "breaking"]
    assert len(breaking) == len(expected) > 241
    for change in expected:
        assert change.text[0].upper() + change.text[1:] in breaking
    assert "GET /contacts: no longer in DE (Accounting Plus, Accounting Start)" in breaking
    assert "Model Contact: no longer in DE (Accounting Plus, Accounting Start)" in breaking
    # Availability is in the Operation facts, the docstrings and the tool schemas: shown.
    assert not [line for line in breaking if "API only" in line]
    assert "Method `client.bank_accounts.bank_feed()` added" in entry["Added"]


def _diff_entry(raw: dict[str, Any], tmp: Path, mutate: Any) -> tuple[int, dict[str, list[str]]]:
    old = write_spec_dir(tmp / "old", raw)
    docs = copy.deepcopy(raw)
    mutate(docs)
    new = write_spec_dir(tmp / "new", docs)
    return changelog(str(old), str(new))


def test_a_change_the_rendered_sdk_does_not_show_is_said_to_be_api_only(
    raw_documents: dict[str, Any], tmp_path: Path
) -> None:
    """A new enum value of a response property (response models type it ``str``) and a new
    success status (no part of the rendered operation) change nothing users of the SDK see."""

    def mutate(docs: dict[str, Any]) -> None:
        definitions = docs[ACCOUNTS]["definitions"]
        definitions["Contact"]["properties"]["credit_terms"]["enum"] = ["a", "b", "c"]
        responses = docs[ACCOUNTS]["paths"]["/contacts"]["post"]["responses"]
        responses["200"] = responses.pop("201")

    raw = copy.deepcopy(raw_documents)
    raw[ACCOUNTS]["definitions"]["Contact"]["properties"]["credit_terms"]["enum"] = ["a", "b"]
    code, entry = _diff_entry(raw, tmp_path, mutate)
    assert code == 1
    assert entry["Breaking"] == [
        "POST /contacts: success status 201 -> 200 (API only: the SDK's output is unchanged)"
    ]
    unchanged = entry["API changes with no change to the SDK's output"]
    assert any("enum value `c` added" in line for line in unchanged), unchanged
    assert "Changed" not in entry


def test_a_change_the_rendered_sdk_shows_is_listed_as_changed(
    raw_documents: dict[str, Any], tmp_path: Path
) -> None:
    """A parameter's new description is in the method's docstring and the tool schema."""

    def mutate(docs: dict[str, Any]) -> None:
        op = docs[ACCOUNTS]["paths"]["/contacts"]["get"]
        search = next(p for p in op["parameters"] if p["name"] == "search")
        search["description"] = "Search by name, reference or email"

    code, entry = _diff_entry(raw_documents, tmp_path, mutate)
    assert code == 0
    assert entry["Changed"] == ["GET /contacts: description of parameter `search` changed"]
    assert "Breaking" not in entry


def test_model_availability_changes_are_reported(
    raw_documents: dict[str, Any], tmp_path: Path
) -> None:
    def mutate(docs: dict[str, Any]) -> None:
        contact = docs[ACCOUNTS]["definitions"]["Contact"]
        contact["description"] = contact["description"].replace(
            "* Accounting Standard: 🇬🇧, 🇮🇪\n", "* Accounting Standard: 🇬🇧\n"
        )

    code, entry = _diff_entry(raw_documents, tmp_path, mutate)
    assert code == 1
    assert entry["Breaking"] == ["Model Contact: no longer in IE (Accounting Standard)"]
