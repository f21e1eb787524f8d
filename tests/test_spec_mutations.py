"""Robust by construction (issue 20): Sage's real documents, mutated the ways Sage's documents vary,
either generate with every new fault named ``file#pointer`` or are refused in one line; never a
traceback, never output that changed silently.

Each example takes one real module document of ``../shared/spec/modules-2025-11`` (a module
generates on its own: it carries its own copies of the definitions it uses), applies one mutation
and runs the generator's pipeline in process: load, build the IR, render every module and the tool
schemas. Black is left out: it is a deterministic function of the rendered source (equal sources
format equally; ``test_render_black`` covers it) and most of a generation's time, so the property
is checked on the template output, with changed modules compiled to prove black would read them.
A ``SpecError`` is what the CLI prints as ``error: file#pointer: message`` with exit 2
(``test_bad_spec``); any other exception would be a traceback. Bounded to keep the suite fast.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from project_copy import SHARED_SPEC

from sage_codegen.errors import SpecError, pointer
from sage_codegen.ir_build import build_api
from sage_codegen.loader import load_spec, read_document
from sage_codegen.render import render_sources
from sage_codegen.report import Report
from sage_codegen.tool_schemas import render_tool_schemas

REAL = SHARED_SPEC / "modules-2025-11"
# The module documents under 100 kB (ten of the sixteen: every fault class above occurs in them),
# so an example costs ~0.2 s; the larger modules are generated whole by test_real_publication.
DOCUMENTS = sorted(
    p.name
    for p in REAL.glob("swagger.*.json")
    if "(1)" not in p.name and p.stat().st_size < 100_000
)
SCHEMA_KEYWORDS = (
    "type",
    "items",
    "properties",
    "description",
    "enum",
    "format",
    "$ref",
    "required",
)

pytestmark = pytest.mark.skipif(
    not REAL.is_dir(), reason="../shared/spec is not beside the project"
)


@dataclass(frozen=True)
class Outcome:
    refused: SpecError | None
    warnings: frozenset[tuple[str, str, str]]  # (kind, pointer, message) with the file name cut
    sources: dict[str, str]


def run_pipeline(path: Path) -> Outcome:
    try:
        api = build_api(load_spec([path]))
    except SpecError as exc:
        return Outcome(exc, frozenset(), {})
    for w in api.warnings:
        assert w.file == str(path), f"a warning names another file: {w}"
        assert w.pointer == "" or w.pointer.startswith("/"), str(w)
    sources = render_sources(api)
    sources["_tool_schemas.json"] = render_tool_schemas(api)
    folder = str(path.parent)
    cut = {k: v.replace(api.spec_digest, "DIGEST") for k, v in sources.items()}
    warnings = frozenset((w.kind, w.pointer, w.message.replace(folder, "")) for w in api.warnings)
    return Outcome(None, warnings, cut)


@cache
def original(name: str) -> dict[str, Any]:
    return read_document(REAL / name, Report()).data


@cache
def baseline(name: str) -> Outcome:
    """The document as Sage published it (a trailing comma fixed the one safe way) alone."""
    directory = Path(BASE_DIR) / "baseline"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(json.dumps(original(name), ensure_ascii=False), encoding="utf-8")
    outcome = run_pipeline(path)
    assert outcome.refused is None, outcome.refused
    return outcome


BASE_DIR = ""  # set by the fixture below: hypothesis examples share one temporary directory


# -- where a mutation may strike ------------------------------------------------------------------


def nodes(doc: Any, where: str = "") -> list[tuple[str, Any]]:
    found = [(where, doc)]
    if isinstance(doc, dict):
        for k, v in doc.items():
            found.extend(nodes(v, where + pointer(k)))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            found.extend(nodes(v, f"{where}/{i}"))
    return found


def get(doc: Any, where: str) -> Any:
    for token in where.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        doc = doc[int(token)] if isinstance(doc, list) else doc[token]
    return doc


@cache
def sites(name: str) -> dict[str, list[str]]:
    doc = original(name)
    everything = nodes(doc)
    examples = [w for w, _ in everything if "/examples/" in w]
    schemas = [
        w
        for w, v in everything
        if isinstance(v, dict)
        and "/examples" not in w
        and ("type" in v or "$ref" in v or "properties" in v)
        and not w.endswith("/properties")
    ]
    refs = [w for w, v in everything if w.endswith("/$ref") and isinstance(v, str)]
    referenced = sorted({str(get(doc, w)).rsplit("/", 1)[-1] for w in refs})
    return {"examples": examples, "schemas": schemas, "refs": refs, "referenced": referenced}


# -- the mutations: (class, is it data?, change the parsed document or the text) -------------------

WRONG_TYPES: list[Any] = [5, "x", True, ["a"], {"a": 1}, 1.5]
# Swagger 2.0's JSON type of each keyword (``required`` of a parameter is a boolean, of a schema
# a list: either is right there).
KEYWORD_JSON_TYPE: dict[str, tuple[type, ...]] = {
    "type": (str,),
    "format": (str,),
    "description": (str,),
    "$ref": (str,),
    "items": (dict,),
    "properties": (dict,),
    "enum": (list,),
    "required": (list, bool),
}
MIXED: list[Any] = [None, [], {}, "", 0, [1, "a", None, {"k": [None]}], {"$items": [None, 1]}]


@dataclass(frozen=True)
class Mutation:
    kind: str
    data: bool  # a change of example data (output may change: examples are data)
    apply: Callable[[dict[str, Any], random.Random, str], str]  # -> the document's text


def _dump(doc: Any) -> str:
    return json.dumps(doc, ensure_ascii=False, indent=1)


def _set(doc: dict[str, Any], where: str, value: Any) -> None:
    parent, _, last = where.rpartition("/")
    container = get(doc, parent)
    token = last.replace("~1", "/").replace("~0", "~")
    container[int(token) if isinstance(container, list) else token] = value


def example_value(values: list[Any]) -> Callable[[dict[str, Any], random.Random, str], str]:
    def apply(doc: dict[str, Any], rng: random.Random, name: str) -> str:
        where = rng.choice(sites(name)["examples"] or ["/paths"])
        if where != "/paths":
            _set(doc, where, copy.deepcopy(rng.choice(values)))
        return _dump(doc)

    return apply


def schema_keyword(
    values: list[Any], wrong_type: bool = False
) -> Callable[[dict[str, Any], random.Random, str], str]:
    """A keyword of a schema (or parameter) set to one of ``values``; with ``wrong_type``, only
    to a value of another JSON type than Swagger 2.0 gives the keyword."""

    def apply(doc: dict[str, Any], rng: random.Random, name: str) -> str:
        where = rng.choice(sites(name)["schemas"])
        keyword = rng.choice(SCHEMA_KEYWORDS)
        allowed = values
        if wrong_type:
            allowed = [v for v in values if not isinstance(v, KEYWORD_JSON_TYPE[keyword])]
        get(doc, where)[keyword] = copy.deepcopy(rng.choice(allowed))
        return _dump(doc)

    return apply


def missing_definition(doc: dict[str, Any], rng: random.Random, name: str) -> str:
    referenced = [d for d in sites(name)["referenced"] if d in doc.get("definitions", {})]
    if referenced:  # a module may hold no $ref at all
        doc["definitions"].pop(rng.choice(referenced))
    return _dump(doc)


def duplicated_definition(doc: dict[str, Any], rng: random.Random, name: str) -> str:
    """A definition written twice in the JSON text, equal or with one property more."""
    definition = rng.choice(sorted(doc["definitions"]))
    twin = copy.deepcopy(doc["definitions"][definition])
    if rng.random() < 0.5:
        twin.setdefault("properties", {})["only_in_twin"] = {"type": "string"}
    text = _dump(doc)
    key = json.dumps(definition) + ": "
    at = text.index(key, text.index('"definitions"'))
    return text[:at] + key + json.dumps(twin, ensure_ascii=False) + ",\n" + text[at:]


def dangling_ref(doc: dict[str, Any], rng: random.Random, name: str) -> str:
    if not sites(name)["refs"]:
        return _dump(doc)
    where = rng.choice(sites(name)["refs"])
    _set(doc, where, rng.choice(["#/definitions/Nope", "other.json#/definitions/X", "", "#/"]))
    return _dump(doc)


def encoding(doc: dict[str, Any], rng: random.Random, name: str) -> str:
    text = _dump(doc)
    choice = rng.randrange(3)
    if choice == 0:
        return "\ufeff" + text
    if choice == 1:  # a trailing comma after the last member of an object
        objects = [v for _, v in nodes(doc) if isinstance(v, dict) and v]
        rng.choice(objects)["__trailing__"] = 0
        text = _dump(doc)
        at = text.index('"__trailing__": 0')
        start = text.rindex(",", 0, at)
        return text[: start + 1] + text[at + len('"__trailing__": 0') :]
    return "LATIN-1:" + text  # marker: written as latin-1, an accent in a description


def huge(doc: dict[str, Any], rng: random.Random, name: str) -> str:
    where = rng.choice(sites(name)["schemas"])
    value = rng.choice(
        [
            "é" * 200_000,
            [str(i) for i in range(20_000)],
            10**400,
            {"$items": [{"a": i} for i in range(5000)]},
        ]
    )
    if isinstance(value, str):
        get(doc, where)["description"] = value
    elif isinstance(value, list):
        get(doc, where)["enum"] = value
    else:
        target = rng.choice(sites(name)["examples"] or [where])
        _set(doc, target, value) if target != where else get(doc, where).update(example=value)
    return _dump(doc)


def deep(doc: dict[str, Any], rng: random.Random, name: str) -> str:
    depth = rng.choice([30, 60, 200])
    value: Any = {"leaf": None}
    for level in range(depth):
        value = {f"k{level}": value} if rng.random() < 0.7 else [value]
    if rng.random() < 0.5 and sites(name)["examples"]:
        _set(doc, rng.choice(sites(name)["examples"]), value)
    else:
        schema: dict[str, Any] = {"type": "string"}
        for level in range(depth // 3):
            schema = {"type": "object", "properties": {f"p{level}": schema}}
        get(doc, rng.choice(sites(name)["schemas"])).setdefault("properties", {})["deep"] = schema
    return _dump(doc)


MUTATIONS = [
    Mutation("example-null", True, example_value([None])),
    Mutation("example-empty", True, example_value([[], {}, ""])),
    Mutation("example-mixed-shape", True, example_value(MIXED)),
    Mutation("schema-null", False, schema_keyword([None])),
    Mutation("schema-empty", False, schema_keyword(["", [], {}])),
    Mutation("wrong-type", False, schema_keyword(WRONG_TYPES, wrong_type=True)),
    Mutation("missing-definition", False, missing_definition),
    Mutation("duplicated-definition", False, duplicated_definition),
    Mutation("dangling-ref", False, dangling_ref),
    Mutation("odd-encoding", False, encoding),
    Mutation("huge-value", True, huge),
    Mutation("deep-value", True, deep),
]
SEEN: dict[str, dict[str, int]] = {}  # class -> outcome -> count (printed at the end)


@pytest.fixture(scope="module", autouse=True)
def _base_dir(tmp_path_factory: pytest.TempPathFactory) -> Any:
    global BASE_DIR
    BASE_DIR = str(tmp_path_factory.mktemp("mutations"))
    yield
    for kind, outcomes in sorted(SEEN.items()):
        print(f"mutation {kind}: {outcomes}")


@settings(
    max_examples=4,  # per class: 48 examples, < 60 s on CI's two cores
    deadline=None,
    derandomize=True,  # the same examples on every run: CI results do not depend on luck
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m.kind for m in MUTATIONS])
@given(document=st.sampled_from(DOCUMENTS), seed=st.integers(0, 2**32 - 1))
def test_every_mutation_generates_with_its_warning_or_is_refused_in_one_line(
    mutation: Mutation, document: str, seed: int
) -> None:
    rng = random.Random(seed)
    text = mutation.apply(copy.deepcopy(original(document)), rng, document)
    directory = Path(BASE_DIR) / f"m{seed}"
    directory.mkdir(exist_ok=True)
    path = directory / document
    if text.startswith("LATIN-1:"):
        text = text[len("LATIN-1:") :].replace('"description": "', '"description": "Société ', 1)
        path.write_bytes(text.encode("latin-1", errors="replace"))
    else:
        path.write_text(text, encoding="utf-8")
    outcome = run_pipeline(path)  # any exception but SpecError fails here: a traceback
    before = baseline(document)
    if outcome.refused is not None:
        error = outcome.refused
        line = f"error: {error}"
        assert "\n" not in line and error.file == str(path), line
        assert error.pointer == "" or error.pointer.startswith("/"), line
        assert error.message, line
        result = "refused"
    else:
        new = outcome.warnings - before.warnings
        changed = sorted(k for k in outcome.sources if outcome.sources[k] != before.sources.get(k))
        changed += sorted(before.sources.keys() - outcome.sources.keys())
        if changed and not mutation.data:
            assert new, f"{mutation.kind}: output changed with no warning: {changed[:5]}"
        for name in changed:
            if name.endswith(".py") and name in outcome.sources:
                compile(outcome.sources[name], name, "exec")
        result = "warned" if new else ("changed" if changed else "same")
    SEEN.setdefault(mutation.kind, {}).setdefault(result, 0)
    SEEN[mutation.kind][result] += 1
