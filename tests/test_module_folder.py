"""Sage's spec as published today: a folder of module documents with ten faults (issue 10).

The folder is built from the current documents by ``module_fixture.build_module_folder``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from module_fixture import FAULTS, NEW_ACCESS_HEAD, ModuleFolder

from sage_codegen.cli import main
from sage_codegen.diff import compare
from sage_codegen.errors import SpecError
from sage_codegen.ir import Api
from sage_codegen.ir_build import OPEN_MODEL, build_api
from sage_codegen.loader import load_spec


@pytest.fixture(scope="session")
def module_api(module_folder: ModuleFolder) -> Api:
    return build_api(load_spec([module_folder.directory]))


def test_the_fixture_holds_every_fault(module_folder: ModuleFolder) -> None:
    assert set(module_folder.faults) == set(FAULTS)
    ops = sum(1 for f in module_folder.faults["responses with examples only"])
    assert ops > 292 // 2, "more than half the operations answer with examples only"


def test_every_fault_is_read_one_safe_way_and_reported_with_its_place(
    module_folder: ModuleFolder, module_api: Api
) -> None:
    folder = module_folder.directory
    by_kind: dict[str, list[Any]] = {}
    for warning in module_api.warnings:
        by_kind.setdefault(warning.kind, []).append(warning)
    [comma] = by_kind["json-syntax"]
    assert comma.file == str(folder / "swagger.contacts.json")
    assert comma.pointer == "/info/version" and "(line 9, column" in comma.message
    [twin] = by_kind["duplicate-document"]
    assert twin.file.endswith("swagger.currencies (1).json")
    assert "swagger.currencies.json" in twin.message
    [other] = by_kind["not-an-api-document"]
    assert other.file.endswith("docs-manifest.json")
    assert len(by_kind["definition-text-differs"]) == len(
        {w.file + w.pointer for w in by_kind["definition-text-differs"]}
    )
    conflicts = by_kind["definition-conflict"]
    widened = [w for w in conflicts if "widened to number" in w.message]
    assert widened and all("#/definitions/" in w.message for w in widened), "both pointers"
    [bad_type] = by_kind["unknown-type"]
    assert bad_type.pointer.endswith("LegacyTransactionLink/properties/transaction/type")
    [access] = by_kind["description-grammar"]
    assert access.pointer == "/paths/~1transactions/get/description"


def test_every_operation_reaches_exactly_one_method(module_api: Api, api: Api) -> None:
    assert {(o.method, o.path) for o in module_api.operations} == {
        (o.method, o.path) for o in api.operations
    }
    methods = [(o.resource, o.py_name) for o in module_api.operations]
    assert len(methods) == len(set(methods))


def test_responses_without_schema_are_decided_by_shape_and_name(module_api: Api) -> None:
    ops = {(o.method, o.path): o for o in module_api.operations}
    journals, journal = ops[("GET", "/journals")], ops[("GET", "/journals/{key}")]
    if journals.response.decision:  # stripped by the fixture: decided by shape and name
        assert journals.response.is_list and journals.response.model == "Journal"
    assert journal.response.model == "Journal" and not journal.response.is_list
    decided = [o for o in module_api.operations if o.response.decision]
    assert len(decided) > len(module_api.operations) // 2
    assert all(o.response.model for o in decided)
    assert any(o.response.model == OPEN_MODEL for o in decided) == (
        OPEN_MODEL in {m.name for m in module_api.models}
    )
    reissue = ops[("POST", "/journals/{key}/reissue")]  # no "Reissue" definition: the examples
    assert "inferred from the examples" in reissue.response.decision
    model = next(m for m in module_api.models if m.name == reissue.response.model)
    assert [(f.name, f.type.kind) for f in model.fields] == [
        ("id", "string"),
        ("displayed_as", "string"),
    ]
    assert model.pointer.endswith("/paths/~1journals~1{key}~1reissue/post/responses/201/examples")


def test_a_ref_to_an_array_definition_is_a_list(
    module_folder: ModuleFolder, module_api: Api
) -> None:
    where = module_folder.faults["$ref-to-array lists"][0]
    method, path = where.split(":", 1)[1].split(" ", 1)
    op = next(o for o in module_api.operations if (o.method, o.path) == (method, path))
    assert op.response.is_list and op.py_name == "list"


def test_the_tax_return_post_takes_its_idempotency_key_from_the_runtime(module_api: Api) -> None:
    op = next(
        o for o in module_api.operations if (o.method, o.path) == ("POST", "/migration_tax_returns")
    )
    assert op.idempotency_header == "X-Idempotency-Key"
    assert op.header_parameters == ()  # not an argument: filled like the body's idempotency_id


def test_the_new_access_phrasing_is_parsed_and_the_unparsable_one_is_unknown(
    module_api: Api, api: Api
) -> None:
    assert NEW_ACCESS_HEAD
    old = {(o.method, o.path): o.access for o in api.operations}
    for op in module_api.operations:
        if op.path.startswith("/coa_") or op.path.startswith("/ledger_accounts"):
            assert op.access == old[(op.method, op.path)]
    transactions = next(
        o for o in module_api.operations if (o.method, o.path) == ("GET", "/transactions")
    )
    assert transactions.access is not None and transactions.access.describe() == "unknown"


def test_strict_refuses_the_folder_naming_the_first_fault(module_folder: ModuleFolder) -> None:
    with pytest.raises(SpecError) as err:
        load_spec([module_folder.directory], strict=True)
    assert err.value.file.endswith("docs-manifest.json")


def test_lock_then_generate_the_folder_exits_0_with_the_warnings_summary(
    module_folder: ModuleFolder, tmp_path: Path
) -> None:
    spec_dir, out = tmp_path / "spec", tmp_path / "out"
    runner = CliRunner()
    locked = runner.invoke(
        main,
        ["spec", "lock", "--source", str(module_folder.directory), "--spec-dir", str(spec_dir)],
    )
    assert locked.exit_code == 0, locked.output
    names = [d["name"] for d in json.loads((spec_dir / "spec.lock.json").read_text())["documents"]]
    assert names == sorted(module_folder.modules.values())  # no twin, no manifest
    result = runner.invoke(
        main, ["generate", "--spec-dir", str(spec_dir), "--out", str(out), "--jobs", "2"]
    )
    assert result.exit_code == 0, result.output
    assert "spec warnings: " in result.output and "json-syntax" in result.output
    table = "".join(path.read_text() for path in sorted((out / "resources").glob("*.py")))
    assert 'idempotency_header="X-Idempotency-Key"' in table
    assert "access_known=False" in table
    strict = runner.invoke(
        main, ["generate", "--spec-dir", str(spec_dir), "--out", str(out), "--strict"]
    )
    assert strict.exit_code == 2
    [line] = strict.output.strip().splitlines()
    assert line.startswith(f"error: {spec_dir / 'swagger.contacts.json'}#/info/version: ")


def test_diff_of_the_current_spec_against_the_folder_names_every_breaking_change(
    module_folder: ModuleFolder, api: Api, module_api: Api
) -> None:
    expected = [c for c in compare(api, module_api).all() if c.level == "breaking"]
    assert expected, "examples-only responses and the widened types break something"
    result = CliRunner().invoke(main, ["diff", "spec", "--against", str(module_folder.directory)])
    assert result.exit_code == 1, result.output
    for change in expected:
        assert change.text in result.output
    assert "SPEC WARNINGS (new spec" in result.output
    markdown = CliRunner().invoke(
        main, ["diff", "spec", "--against", str(module_folder.directory), "--format", "markdown"]
    )
    for change in expected:
        assert change.text.replace("|", "\\|") in markdown.output


def test_diff_runs_when_a_side_would_not_generate(
    module_folder: ModuleFolder, tmp_path: Path
) -> None:
    """Two operations for one method stop generation, not the diff: a warning names them."""
    source = module_folder.directory / "swagger.accounting.json"
    doc = json.loads(source.read_text())
    item = doc["paths"]["/journals/{key}"]
    item["patch"] = dict(item["get"], operationId="patchJournalsKey")
    item["patch"]["responses"] = {
        "200": {"description": "ok", "schema": {"$ref": "#/definitions/Journal"}}
    }
    item["put"] = dict(item["patch"], operationId="putJournalsKey")
    side = tmp_path / "new"
    side.mkdir()
    for path in module_folder.directory.iterdir():
        (side / path.name).write_bytes(path.read_bytes())
    (side / source.name).write_text(json.dumps(doc))
    result = CliRunner().invoke(main, ["diff", "spec", "--against", str(side)])
    assert result.exit_code == 1, result.output
    assert "[would-not-generate]" in result.output
    assert "client.journals.update()" in result.output


def test_an_api_of_another_host_is_refused_in_one_line(
    module_folder: ModuleFolder, tmp_path: Path
) -> None:
    uki = json.loads((module_folder.directory / "swagger.banking.json").read_text())
    uki["host"], uki["info"]["title"] = "api.columbus.sage.com", "Sage One UKI API v3"
    (tmp_path / "uki.json").write_text(json.dumps(uki))
    with pytest.raises(SpecError, match="another API .'Sage One UKI API v3'"):
        load_spec([module_folder.directory / "swagger.accounting.json", tmp_path / "uki.json"])
    alone = build_api(load_spec([tmp_path / "uki.json"]))  # alone, it is generated like the others
    assert any(o.response.is_list for o in alone.operations)


def test_a_named_list_is_no_model_class(module_api: Api) -> None:
    names = {m.name for m in module_api.models}
    assert not any(name.endswith("List") and name[:-4] in names for name in names)
