"""Sage's real publications, exactly as published (issue 20), read at test time from ../shared.

``modules-2025-11/`` is generated in a copy of the project with the maintainer's own commands
(``make spec-lock SPEC_SOURCE=... && make generate``), imported, and served through the sandbox in
a process of its own; the committed package stays generated from the pinned spec. Every folder of
``../shared/spec/`` generates or is refused in one line.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from project_copy import SHARED_SPEC, ProjectCopy, Run, copy_project

from sage_codegen.cli import main
from sage_codegen.diff import compare
from sage_codegen.errors import SpecError
from sage_codegen.ir import Api
from sage_codegen.ir_build import build_api
from sage_codegen.loader import load_spec, read_document

REAL = SHARED_SPEC / "modules-2025-11"
FOLDERS = ("current", "history/2022-05", "modules-2025-11", "other/uki-v3")
HTTP_METHODS = ("get", "put", "post", "delete", "patch")
WARNING_LINE = re.compile(r"^  warning \[([a-z-]+)\] (\S.*?\.json)#(/\S*)?: \S")

pytestmark = pytest.mark.skipif(
    not REAL.is_dir(), reason="../shared/spec is not beside the project"
)


def raw_operations(folder: Path) -> set[tuple[str, str]]:
    """(METHOD, path) of every operation the folder's API documents hold, read without the
    generator (the copies Sage duplicates count once)."""
    found: set[tuple[str, str]] = set()
    for path in sorted(folder.glob("*.json")):
        doc = read_document(path, report=_lenient()).data
        for route, item in (doc.get("paths") or {}).items():
            found.update((m.upper(), route) for m in item if m in HTTP_METHODS)
    return found


def _lenient() -> Any:
    from sage_codegen.report import Report

    return Report()


@pytest.fixture(scope="module")
def real_api() -> Api:
    return build_api(load_spec([REAL]))


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[ProjectCopy, Run]:
    """A copy of the project after ``make spec-lock SPEC_SOURCE=<real folder> && make generate``."""
    project = copy_project(tmp_path_factory.mktemp("published") / "sage-accounting")
    run = project.sh(f"make spec-lock SPEC_SOURCE='{REAL}' && make generate")
    return project, run


def test_lock_then_generate_exits_0_with_every_warning_at_its_place(
    published: tuple[ProjectCopy, Run],
) -> None:
    project, run = published
    assert run.code == 0, run.output[-3000:]
    lines = run.stderr.splitlines()
    at = max(i for i, line in enumerate(lines) if line.startswith("spec warnings: "))  # generate's
    count = int(lines[at].split()[2].rstrip(":"))
    warnings = [line for line in lines[at + 1 :] if line.startswith("  warning [")]
    assert count == len(warnings) > 0
    for line in warnings:
        assert WARNING_LINE.match(line), line
    kinds = {WARNING_LINE.match(line).group(1) for line in warnings}  # type: ignore[union-attr]
    assert {"json-syntax", "definition-conflict", "definition-text-differs"} <= kinds
    assert "generated 334 files (270 operations" in run.stdout
    lock = json.loads((project.root / "spec" / "spec.lock.json").read_text())
    names = [d["name"] for d in lock["documents"]]
    assert len(names) == 16 and "wordpress_format_schema.json" not in names
    assert not any("(1)" in name for name in names)
    manifest = json.loads(
        (project.root / "generated" / "sage_accounting" / "_manifest.json").read_text()
    )
    assert sorted(manifest["spec"]["documents"]) == sorted(names)


def test_every_operation_reaches_exactly_one_method(real_api: Api) -> None:
    ops = [(o.method, o.path) for o in real_api.operations]
    assert len(ops) == len(set(ops)) == 270
    assert set(ops) == raw_operations(REAL)
    methods = [(o.resource, o.py_name) for o in real_api.operations]
    assert len(methods) == len(set(methods))


def test_the_package_imports_and_the_sandbox_serves_every_operation(
    published: tuple[ProjectCopy, Run],
) -> None:
    project, run = published
    assert run.code == 0
    served = project.sh(".venv/bin/python tests/sandbox_calls.py", timeout=120)
    assert served.code == 0, served.output[-3000:]
    result = json.loads(served.stdout)
    assert result["package"] == str(project.root / "generated" / "sage_accounting")
    assert result["operations"] == 270
    assert result["failures"] == {}


# Operations whose response Sage documents by examples only and whose model is Sage's definition
# named like the resource: these examples contradict that definition (a date sent as a date-time
# or as 05/01/2022, an object where a string or a list is declared). Listed so that a change either
# way is seen; the definitions are Sage's to fix, or ours to overlay (spec/overlays/).
EXAMPLES_CONTRADICT_DEFINITION = {
    "get /journals/{key}",
    "get /purchase_credit_notes/{key}",
    "get /stock_items/{key}",
    "get /stock_movements/{key}",
    "get /analysis_types/{key}",
}


def test_every_example_sage_gives_validates_as_the_model_generated_for_it(
    published: tuple[ProjectCopy, Run], real_api: Api
) -> None:
    """Examples are data: the models inferred from them accept every record they show, nulls,
    empty lists and mixed shapes included."""
    project, run = published
    assert run.code == 0
    script = f"""
import json, sys
from pathlib import Path
import sage_accounting.models as models
from sage_accounting._runtime import all_operations
from sage_codegen.loader import read_document
from sage_codegen.report import Report
from sage_codegen.sage_rules import example_records
ops, checked, failures = all_operations(), 0, []
for path in sorted(Path({str(REAL)!r}).glob("swagger.*.json")):
    doc = read_document(path, Report()).data
    for route, item in doc["paths"].items():
        for method, op in item.items():
            info = ops.get(op.get("operationId", "")) if isinstance(op, dict) else None
            if info is None or info.model is None:
                continue
            for code, response in op["responses"].items():
                if not str(code).startswith("2") or "schema" in response:
                    continue
                for example in (response.get("examples") or {{}}).values():
                    for record in example_records(example):
                        if isinstance(record, dict):
                            checked += 1
                            try:
                                getattr(models, info.model).model_validate(record)
                            except Exception as exc:
                                failures.append(f"{{method}} {{route}}")
print(json.dumps({{"checked": checked, "failures": sorted(set(failures))}}))
"""
    (project.root / "check_examples.py").write_text(script)
    done = project.sh(".venv/bin/python check_examples.py")
    assert done.code == 0, done.output[-3000:]
    result = json.loads(done.stdout)
    assert result["checked"] > 100
    inferred = {
        f"{o.method.lower()} {o.path}"
        for o in real_api.operations
        if "inferred from the examples" in o.response.decision
    }
    assert len(inferred) > 30
    assert not inferred & set(result["failures"])
    assert set(result["failures"]) == EXAMPLES_CONTRADICT_DEFINITION


def test_strict_exits_2_naming_the_first_fault(published: tuple[ProjectCopy, Run]) -> None:
    project, run = published
    assert run.code == 0
    strict = project.sh("make generate STRICT=1")
    assert strict.code == 2
    [line] = [line for line in strict.stderr.splitlines() if line.startswith("error: ")]
    assert line.startswith(
        f"error: {project.root / 'spec' / 'swagger.settings.json'}#/definitions/Base/description: "
        "malformed JSON: trailing comma (line 1620, column 145)"
    ), line
    with pytest.raises(SpecError) as err:
        load_spec([REAL], strict=True)
    assert err.value.file.endswith("swagger.settings.json")


def test_the_diff_of_the_current_spec_against_it_lists_every_breaking_change(
    api: Api, real_api: Api
) -> None:
    expected = [c for c in compare(api, real_api).all() if c.level == "breaking"]
    rules = {c.rule for c in expected}
    assert {"sdk-method-removed", "availability-country-removed", "sdk-return-changed"} <= rules
    result = CliRunner().invoke(main, ["diff", "spec", "--against", str(REAL)])
    assert result.exit_code == 1, result.output[-2000:]
    listed = result.output.splitlines()
    assert result.output.splitlines()[0].split(": ", 1)[1].startswith(f"{len(expected)} breaking")
    for change in expected:
        assert f"  [{change.rule}] {change.text}" in listed, change.text


@pytest.mark.parametrize("folder", FOLDERS)
def test_every_folder_of_sage_documents_generates_or_is_refused_in_one_line(
    folder: str, tmp_path: Path
) -> None:
    source = SHARED_SPEC / folder
    runner = CliRunner()
    spec_dir, out = tmp_path / "spec", tmp_path / "out" / "sage_accounting"
    locked = runner.invoke(
        main, ["spec", "lock", "--source", str(source), "--spec-dir", str(spec_dir)]
    )
    generated = runner.invoke(
        main, ["generate", "--spec-dir", str(spec_dir), "--out", str(out), "--jobs", "1"]
    )
    # Each folder generates today; a folder that could not would be refused in one line, exit 2
    # (the property test in test_spec_mutations.py holds every refusal to that form).
    assert locked.exit_code == 0, locked.output[-2000:]
    assert generated.exit_code == 0, generated.output[-2000:]
    assert "spec warnings: " in generated.output
    api = build_api(load_spec([source]))
    assert {(o.method, o.path) for o in api.operations} == raw_operations(source)
    assert (out / "_manifest.json").is_file()


def walkthrough_commands(readme: str) -> list[str]:
    """The shell commands of the README's "When Sage publishes a new spec", in order."""
    section = readme.split("## When Sage publishes a new spec", 1)[1].split("\n## ", 1)[0]
    commands: list[str] = []
    in_sh = False
    for line in section.splitlines():
        stripped = line.strip()
        if stripped.startswith("```"):
            in_sh = stripped == "```sh"
            continue
        if in_sh and stripped:
            commands.append(re.sub(r"\s+#\s.*$", "", stripped))
    return commands


def test_the_readme_walkthrough_runs_on_the_real_folder(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Each command of the walk-through, as written (``~/sage-spec-new`` being Sage's folder), in
    a copy of the project: the diffs exit 1 (the folder breaks things) and list them, the lock
    and generation exit 0 with the warnings summary, STRICT=1 exits 2 on the first fault."""
    project = copy_project(tmp_path_factory.mktemp("walkthrough") / "sage-accounting")
    commands = walkthrough_commands((project.root / "README.md").read_text(encoding="utf-8"))
    assert len(commands) >= 8
    runs = [project.sh(c.replace("~/sage-spec-new", f"'{REAL}'")) for c in commands]
    for run in runs:
        if "diff" in run.command:  # exit 1; make says so as "Error 1" and exits 2 itself
            exited_1 = run.code == 1 or (run.code == 2 and "diff-spec] Error 1" in run.stderr)
            shown = run.output or (project.root / "changelog-draft.md").read_text()
            assert exited_1 and "breaking" in shown.lower(), run.output[-1500:]
        elif "STRICT=1" in run.command:
            assert run.code == 2
            assert "error: " in run.stderr and "trailing comma" in run.stderr
        else:
            assert run.code == 0, run.output[-1500:]
    assert any("spec warnings: 33 (" in run.stderr for run in runs if "generate" in run.command)
    draft = (project.root / "changelog-draft.md").read_text(encoding="utf-8")
    assert "### Breaking\n" in draft
    breaking = draft.split("### Breaking\n", 1)[1].split("\n### ", 1)[0]
    assert "- Method `client." in breaking and ": no longer in FR (" in breaking
