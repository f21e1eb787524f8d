"""``sage-codegen``: the maintainer's command line.

    sage-codegen spec lock --source DIR    pin whatever API documents DIR holds (spec.lock.json)
    sage-codegen spec fetch --source DIR   copy the locked documents into spec/, checking sha256
    sage-codegen generate                  spec/ -> generated/sage_accounting (formatted)
    sage-codegen check                     fail with a summary if the committed package is stale
    sage-codegen inspect                   summarise the IR
    sage-codegen diff OLD... --against NEW...   what a new spec changes and breaks

A spec that cannot be used prints one line ``error: file#pointer: message`` and exits 2. A fault
with one safe reading is read that way and listed as a warning (``--strict``: exit 2 on the first);
overlays in ``spec/overlays/`` are applied to the documents before they are validated.
"""

from __future__ import annotations

import difflib
import os
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from .diff import LEVELS
from .diff_report import FORMATS
from .errors import GeneratorError, SpecError
from .inputs import DEFAULT_TEMPLATES, input_digest, stamp_for, up_to_date, write_stamp
from .package_io import MANIFEST, Plan, apply_plan, plan_package
from .report import Report
from .spec_lock import LockError, fetch, read_lock, verify, write_lock

if TYPE_CHECKING:
    from .ir import Api
    from .loader import LoadedSpec

# The loader (openapi-pydantic), the IR builder, Jinja and black are imported by the commands that
# use them: an up-to-date `generate` stops before needing any (see inputs.py).

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SPEC_DIR = ROOT / "spec"
DEFAULT_OUT = ROOT / "generated" / "sage_accounting"

spec_dir_option = click.option(
    "--spec-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=DEFAULT_SPEC_DIR,
    show_default=True,
    help="Directory holding spec.lock.json and the locked documents.",
)


def default_jobs() -> int:
    return max(1, min(4, os.cpu_count() or 1))


out_option = click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=DEFAULT_OUT,
    show_default=True,
    help="The package directory to write (or check).",
)
jobs_option = click.option(
    "--jobs", type=int, default=default_jobs, help="Processes running black."
)
templates_option = click.option(
    "--templates",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=DEFAULT_TEMPLATES,
    show_default=True,
)


strict_option = click.option(
    "--strict", is_flag=True, help="Every spec warning is an error (exit 2 naming the first)."
)


def fail(message: str, code: int = 2) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def load_locked_api(spec_dir: Path, strict: bool = False) -> Api:
    """Build the IR from the locked documents in ``spec_dir`` (hashes checked first), with the
    overlays in ``spec_dir/overlays`` applied."""
    from .ir_build import build_api
    from .loader import load_spec
    from .overlays import overlay_files

    try:
        paths = verify(spec_dir, read_lock(spec_dir / "spec.lock.json"))
        loaded = load_spec(paths, strict=strict, overlays=overlay_files(spec_dir / "overlays"))
        return build_api(loaded)
    except (SpecError, LockError) as exc:
        fail(str(exc))


def warning_lines(api: Api) -> list[str]:
    """The overlay actions applied and the warnings summary."""
    overlays = [f"overlay {note}" for note in api.notes if note.kind == "overlay"]
    return overlays + Report(warnings=list(api.warnings)).summary()


def echo_warnings(api: Api) -> None:
    """``warning_lines``, printed (on stderr) by every command that loads the locked spec."""
    for line in warning_lines(api):
        click.echo(line, err=True)


@click.group()
def main() -> None:
    """Generate and maintain the sage_accounting SDK from Sage's Swagger documents."""


@main.group()
def spec() -> None:
    """The pinned spec documents."""


@spec.command("fetch")
@click.option(
    "--source",
    type=click.Path(path_type=Path, file_okay=False),
    default=lambda: os.environ.get("SPEC_SOURCE", str(ROOT.parent / "shared" / "spec" / "current")),
    help="Where to copy the documents from (env SPEC_SOURCE; default ../shared/spec/current).",
)
@spec_dir_option
def spec_fetch(source: Path, spec_dir: Path) -> None:
    """Copy the locked documents from SOURCE into the spec directory and verify their sha256."""
    try:
        paths = fetch(source, spec_dir, read_lock(spec_dir / "spec.lock.json"))
    except LockError as exc:
        fail(str(exc))
    for path in paths:
        click.echo(f"spec: {path} verified")


@spec.command("lock")
@click.option(
    "--source",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    required=True,
    help="A folder of Sage's documents as downloaded (any names, any number of modules).",
)
@spec_dir_option
def spec_lock(source: Path, spec_dir: Path) -> None:
    """Pin the API documents SOURCE holds in spec.lock.json (found by content, duplicates and
    other JSON left out, each decision printed), then copy them into the spec directory."""
    from .loader import load_spec

    report = Report()
    try:
        loaded = load_spec([source], report=report)
        names = write_lock(spec_dir / "spec.lock.json", [Path(d.name) for d in loaded.sources])
        fetch(source, spec_dir, read_lock(spec_dir / "spec.lock.json"))
    except (SpecError, LockError) as exc:
        fail(str(exc))
    for line in report.summary():
        click.echo(line, err=True)
    click.echo(
        f"spec: locked {len(names)} documents from {source} in {spec_dir / 'spec.lock.json'}"
    )


@main.command()
@spec_dir_option
@templates_option
@out_option
@jobs_option
@strict_option
def generate(spec_dir: Path, templates: Path, out: Path, jobs: int, strict: bool) -> None:
    """Render the SDK package from the locked spec documents."""
    inputs = _digest_or_empty(spec_dir, templates)
    stamp = up_to_date(out, inputs)
    if stamp is not None and not (strict and stamp.spec_warnings):
        for line in stamp.messages:
            click.echo(line, err=True)
        click.echo(f"generated package is up to date (inputs unchanged): {out}")
        return
    api, plan = plan_generation(spec_dir, templates, out, jobs, strict)
    apply_plan(plan, out)
    if inputs:
        write_stamp(out, stamp_for(inputs, plan.manifest, len(api.warnings), warning_lines(api)))
    click.echo(
        f"generated {len(plan.files)} files ({len(api.operations)} operations, "
        f"{len(api.resources)} resources, {len(api.models)} models) into {out}"
        + (f"; removed {len(plan.stale)} stale" if plan.stale else "")
    )


@main.command()
@spec_dir_option
@templates_option
@out_option
@jobs_option
@strict_option
def check(spec_dir: Path, templates: Path, out: Path, jobs: int, strict: bool) -> None:
    """Regenerate in memory and compare with the committed package; exit 1 if they differ."""
    _api, plan = plan_generation(spec_dir, templates, out, jobs, strict)
    if plan.up_to_date:
        click.echo(f"generated package is up to date ({len(plan.files)} files)")
        return
    click.echo("generated package is stale: run `make generate` and commit the result", err=True)
    differs = plan.differs + ((MANIFEST,) if plan.manifest_differs else ())
    for label, paths in (
        ("missing", plan.missing),
        ("stale, to delete", plan.stale),
        ("differs", differs),
    ):
        for path in paths:
            click.echo(f"  {label}: {out / path}", err=True)
    for path in plan.differs[:3]:
        diff = difflib.unified_diff(
            (out / path).read_text(encoding="utf-8").splitlines(),
            plan.files[path].text.splitlines(),
            f"committed/{path}",
            f"regenerated/{path}",
            lineterm="",
            n=1,
        )
        for line in list(diff)[:20]:
            click.echo(f"    {line}", err=True)
    sys.exit(1)


def plan_generation(
    spec_dir: Path, templates: Path, out: Path, jobs: int, strict: bool
) -> tuple[Api, Plan]:
    """The one path of ``generate`` and ``check``: load, render, compare with ``out``."""
    from .render import render_package

    api = load_locked_api(spec_dir, strict)
    echo_warnings(api)
    try:
        files = render_package(api, templates, jobs=jobs, reuse_from=out)
        return api, plan_package(api, files, out)
    except GeneratorError as exc:
        fail(str(exc))


def _digest_or_empty(spec_dir: Path, templates: Path) -> str:
    """The inputs' digest; "" when an input cannot be read (the full path then says why)."""
    try:
        return input_digest(spec_dir, templates)
    except (OSError, ValueError, LockError):
        return ""


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("paths", nargs=-1, type=click.UNPROCESSED, required=True)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(sorted(FORMATS)),
    default="text",
    show_default=True,
    help="; ".join(f"{name}: {f.help}" for name, f in FORMATS.items()) + ".",
)
@click.option(
    "--fail-on",
    type=click.Choice([*LEVELS, "never"]),
    default="breaking",
    show_default=True,
    help="Exit 1 when a change at or above this level is found.",
)
@click.option("--country", help="Only what matters to users in this country (ISO code, e.g. GB).")
@click.option("--edition", help='Only what matters to users of this edition ("Accounting Plus").')
@strict_option
def diff(
    paths: tuple[str, ...],
    output_format: str,
    fail_on: str,
    country: str | None,
    edition: str | None,
    strict: bool,
) -> None:
    """What NEW changes and breaks compared with OLD: sage-codegen diff OLD... --against NEW...

    Each side is one or more spec documents (Swagger 2.0 or OpenAPI 3.0) or folders of them,
    loaded and merged as `make generate` does. The diff runs whenever both sides load: what only
    generation would refuse is left out of the comparison and listed as a spec warning. Exit 0:
    nothing at or above --fail-on; 1: something is; 2: a side cannot be loaded (or, with
    --strict, has a warning).
    """
    if paths.count("--against") != 1:
        raise click.UsageError("give OLD documents, then --against, then NEW documents")
    split = paths.index("--against")
    old_paths, new_paths = paths[:split], paths[split + 1 :]
    if not old_paths or not new_paths:
        raise click.UsageError("both sides need at least one document or directory")
    from .diff import compare
    from .ir_build import build_api

    try:
        old = build_api(load_side(old_paths, strict), tolerant=not strict)
        new = build_api(load_side(new_paths, strict), tolerant=not strict)
    except SpecError as exc:
        fail(str(exc))
    changes = compare(old, new, country, edition)
    click.echo(FORMATS[output_format].write(changes, old, new), nl=False)
    threshold = next((level for level in LEVELS if level == fail_on), None)  # None: "never"
    sys.exit(1 if changes.at_or_above(threshold) else 0)


def load_side(paths: tuple[str, ...], strict: bool) -> LoadedSpec:
    """One side of a diff: documents or folders. A spec directory (one with spec.lock.json)
    stands for the documents its lock names, with its overlays: what `make generate` reads, not
    whatever older documents still lie in it. Their hashes are not checked: a diff compares
    content, edited or not."""
    from .loader import load_spec
    from .overlays import overlay_files

    inputs: list[Path] = []
    overlays: list[Path] = []
    for given in map(Path, paths):
        if (given / "spec.lock.json").is_file():
            inputs.extend(given / doc.name for doc in read_lock(given / "spec.lock.json"))
            overlays.extend(overlay_files(given / "overlays"))
        else:
            inputs.append(given)
    return load_spec(inputs, strict=strict, overlays=overlays)


@main.command()
@spec_dir_option
@click.option("--operations", is_flag=True, help="List every operation too.")
@strict_option
def inspect(spec_dir: Path, operations: bool, strict: bool) -> None:
    """Summarise the IR: operations per resource, access areas, availability, the responses
    decided without a schema, and the spec warnings."""
    api = load_locked_api(spec_dir, strict)
    click.echo(f"{api.title}: {api.base_url} (spec {api.spec_digest})")
    click.echo(
        f"{len(api.resources)} resources, {len(api.operations)} operations, {len(api.models)} models "
        f"({sum(m.role == 'request' for m in api.models)} request, "
        f"{sum(m.role == 'response' for m in api.models)} response)"
    )
    click.echo("\nresources:")
    for r in api.resources:
        click.echo(f"  client.{r.name:<36} {', '.join(op.py_name for op in r.operations)}")
        if operations:
            for op in r.operations:
                click.echo(f"      {op.method:<6} {op.path:<48} {op.operation_id}")
    decided = [op for op in api.operations if op.response.decision]
    click.echo(f"\nresponses without a schema ({len(decided)}):")
    for op in decided:
        click.echo(f"  {op.method:<6} {op.path:<48} {op.response.decision}")
    areas: Counter[str] = Counter()
    for op in api.operations:
        for a in op.access.areas if op.access else ():
            areas[a.area] += 1
    no_access = sum(op.access is None for op in api.operations)
    unknown = sum(op.access is not None and not op.access.known for op in api.operations)
    click.echo(
        f"\naccess areas (operations naming each; {no_access} with no restriction, "
        f"{unknown} unknown):"
    )
    for area, count in sorted(areas.items(), key=lambda kv: (-kv[1], kv[0])):
        click.echo(f"  {area:<24} {count}")
    editions: Counter[str] = Counter()
    countries: Counter[str] = Counter()
    for op in api.operations:
        for e in op.availability.editions if op.availability else ():
            editions[e.edition] += 1
            countries.update(e.countries)
    no_availability = sum(op.availability is None for op in api.operations)
    click.echo(f"\navailability (operations per edition; {no_availability} unstated):")
    for edition, count in sorted(editions.items()):
        click.echo(f"  {edition:<24} {count}")
    click.echo("  countries: " + ", ".join(f"{c} {n}" for c, n in sorted(countries.items())))
    echo_warnings(api)
