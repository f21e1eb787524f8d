"""A spec that cannot be used: one line naming file and JSON pointer, exit 2, nothing written."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import ACCOUNTS, USER_ACCOUNTS, write_spec_dir

from sage_codegen.cli import main
from sage_codegen.ir_build import build_api
from sage_codegen.loader import _pointer_at, load_spec

Mutation = Callable[[dict[str, Any]], None]


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*") if p.is_file()
    }


def run_generate(spec_dir: Path, out: Path, *flags: str) -> tuple[int, str]:
    out.mkdir(parents=True, exist_ok=True)
    (out / "keep.txt").write_text("an earlier generation")
    before = _snapshot(out)
    result = CliRunner().invoke(
        main, ["generate", "--spec-dir", str(spec_dir), "--out", str(out), "--jobs", "1", *flags]
    )
    assert _snapshot(out) == before, "a failed generation must write nothing"
    return result.exit_code, result.output


def dangling_ref(docs: dict[str, Any]) -> None:
    docs[ACCOUNTS]["definitions"]["Contact"]["properties"]["main_address"][
        "$ref"
    ] = "#/definitions/Nope"


def unknown_type(docs: dict[str, Any]) -> None:
    docs[ACCOUNTS]["definitions"]["Contact"]["properties"]["name"]["type"] = "strng"


def duplicate_operation_id(docs: dict[str, Any]) -> None:
    docs[ACCOUNTS]["paths"]["/contacts"]["post"]["operationId"] = "getContacts"


def two_operations_one_method(docs: dict[str, Any]) -> None:
    item = docs[ACCOUNTS]["paths"]["/contacts/{key}"]
    item["patch"] = dict(item["put"], operationId="patchContactsKey")


def conflicting_definition(docs: dict[str, Any]) -> None:
    docs[USER_ACCOUNTS]["definitions"]["Contact"] = {"type": "string"}  # not mergeable by rule


def unknown_access_phrasing(docs: dict[str, Any]) -> None:
    op = docs[ACCOUNTS]["paths"]["/contacts"]["get"]
    op["description"] += "\nRequires a blue moon"


@pytest.mark.parametrize(
    ("mutate", "file", "pointer", "words"),
    [
        (dangling_ref, ACCOUNTS, "/definitions/Contact/properties/main_address/$ref", "dangling $ref"),
        (unknown_type, ACCOUNTS, "/definitions/Contact/properties/name/type", "unknown type 'strng'"),
        (duplicate_operation_id, ACCOUNTS, "/paths/~1contacts/post/operationId", "duplicate operationId"),
        (two_operations_one_method, ACCOUNTS, "/paths/~1contacts~1{key}/patch", "client.contacts.update()"),
        (conflicting_definition, USER_ACCOUNTS, "/definitions/Contact", ACCOUNTS),
        (unknown_access_phrasing, ACCOUNTS, "/paths/~1contacts/get/description", "blue moon"),
    ],
)  # fmt: skip
def test_bad_spec_names_file_and_pointer_and_writes_nothing(
    tmp_path: Path,
    raw_documents: dict[str, Any],
    mutate: Mutation,
    file: str,
    pointer: str,
    words: str,
) -> None:
    """Under --strict every fault is refused; those with no safe reading are refused anyway."""
    mutate(raw_documents)
    spec_dir = write_spec_dir(tmp_path / "spec", raw_documents)
    code, output = run_generate(spec_dir, tmp_path / "out", "--strict")
    assert code == 2
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert lines[0].startswith(f"error: {spec_dir / file}#{pointer}: "), lines[0]
    assert words in lines[0]


def test_unknown_access_phrasing_is_a_warning_and_access_unknown(
    tmp_path: Path, raw_documents: dict[str, Any]
) -> None:
    unknown_access_phrasing(raw_documents)
    spec_dir = write_spec_dir(tmp_path / "spec", raw_documents)
    api = build_api(load_spec(sorted(spec_dir.glob("*.swagger.json"))))
    [warning] = api.warnings
    assert (warning.file, warning.pointer) == (
        str(spec_dir / ACCOUNTS),
        "/paths/~1contacts/get/description",
    )
    assert "blue moon" in warning.message
    op = next(o for o in api.operations if o.operation_id == "getContacts")
    assert op.access is not None and not op.access.known
    assert op.access.describe() == "unknown"


def test_malformed_json_names_the_pointer_where_it_broke(
    tmp_path: Path, raw_documents: dict[str, Any]
) -> None:
    text = json.dumps(raw_documents[ACCOUNTS], ensure_ascii=False)
    marker = '"credit_limit": {'
    start = text.index('"Contact": {')
    at = text.index(marker, start)
    broken = text[:at] + '"credit_limit": {,' + text[at + len(marker) :]
    spec_dir = write_spec_dir(tmp_path / "spec", raw_documents, raw={ACCOUNTS: broken})
    code, output = run_generate(spec_dir, tmp_path / "out")
    assert code == 2
    assert output.startswith(
        f"error: {spec_dir / ACCOUNTS}#/definitions/Contact/properties/credit_limit: malformed JSON"
    )
    assert len(output.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("text", "pointer"),
    [
        ('{"a": {"b": [1, 2, {"c": x}]}}', "/a/b/2/c"),
        ('{"paths": {"/x/{y}": {"get": }}}', "/paths/~1x~1{y}/get"),
        ('{"a": "b\\"c", "d": [}', "/d/0"),
    ],
)
def test_pointer_at_a_json_syntax_error(text: str, pointer: str) -> None:
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        assert _pointer_at(text, exc.pos) == pointer
    else:
        raise AssertionError("the text must be malformed")


def test_a_document_that_does_not_match_the_lock_is_refused(
    tmp_path: Path, raw_documents: dict[str, Any]
) -> None:
    spec_dir = write_spec_dir(tmp_path / "spec", raw_documents)
    (spec_dir / USER_ACCOUNTS).write_text("{}", encoding="utf-8")
    code, output = run_generate(spec_dir, tmp_path / "out")
    assert code == 2
    assert "does not match the lock" in output


def test_a_missing_document_is_refused(tmp_path: Path, raw_documents: dict[str, Any]) -> None:
    spec_dir = write_spec_dir(tmp_path / "spec", raw_documents)
    (spec_dir / ACCOUNTS).unlink()
    code, output = run_generate(spec_dir, tmp_path / "out")
    assert code == 2
    assert "missing" in output and ACCOUNTS in output
