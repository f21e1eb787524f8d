"""Render the IR into the sage_accounting package: Jinja templates, black, an atomic write.

``render_package`` returns ``{relative path: RenderedFile}`` and writes nothing; ``write_package``
puts a rendered package in place: every file is rendered and formatted first (so a failure writes
nothing), then files are replaced one by one, generated files the new manifest no longer lists are
deleted, and the manifest is written last. The hand-written runtime (``_runtime/``) is never
listed, so never touched.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import json
import os
import re
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from sage_accounting._runtime._operation import QueryKind

from . import typed_dicts
from .ir import Api, Model, Parameter, Resource, TypeRef
from .naming import snake
from .tool_schemas import render_tool_schemas

MANIFEST = "_manifest.json"
# black is imported only when a file needs it (most runs format nothing): its version is read
# from the installed distribution, the same string as black.__version__.
BLACK_VERSION: str = importlib.metadata.version("black")
RUNTIME_DIR = "_runtime"
LINE_LENGTH = 100
DEFAULT_TEMPLATES = Path(__file__).resolve().parent / "templates"


# -- Python spellings of IR types --------------------------------------------------------------------


def field_annotation(t: TypeRef, role: str) -> str:
    """The annotation of a model field, without the ``| None`` of optional fields."""
    request = role == "request"
    if t.kind == "string":
        if request and t.enum:
            return "Literal[" + ", ".join(json.dumps(v) for v in t.enum) + "]"
        return "str"
    if t.kind == "decimal":
        return "RequestDecimal" if request else "Decimal"
    if t.kind == "date":
        return "dt.date" if request else "LenientDate"
    if t.kind == "datetime":
        return "dt.datetime" if request else "LenientDateTime"
    if t.kind == "list":
        assert t.item is not None
        return f"list[{field_annotation(t.item, role)}]"
    if t.kind == "model":
        assert t.model is not None
        return t.model
    return {
        "integer": "int",
        "boolean": "bool",
        "binary": "bytes",
        "any": "Any",
        "dict": "dict[str, Any]",
    }[t.kind]


def param_annotation(p: Parameter) -> str:
    t = p.type
    if t.kind == "string" and t.enum:
        base = "Literal[" + ", ".join(json.dumps(v) for v in t.enum) + "]"
    elif t.kind == "list":
        base = "str | Sequence[str]"
    else:
        base = {
            "string": "str",
            "integer": "int",
            "boolean": "bool",
            "decimal": "Decimal",
            "date": "dt.date",
            "datetime": "dt.datetime | dt.date",
        }[t.kind]
    return base if p.required else f"{base} | None"


def query_kind(p: Parameter) -> QueryKind:
    """The runtime's encoding of a query parameter: the IR's kind must be one it knows."""
    try:
        return QueryKind(p.type.kind)
    except ValueError:
        raise ValueError(
            f"query parameter {p.name!r}: kind {p.type.kind!r} is not one of the runtime's"
            f" QueryKind ({', '.join(QueryKind)})"
        ) from None


def query_param(p: Parameter) -> str:
    """The runtime's QueryParam for a parameter, as Python source (shared constants when plain)."""
    kind = query_kind(p)
    if p.type.enum or p.required:
        enum = f", enum={pytuple(p.type.enum)}" if p.type.enum else ""
        required = ", required=True" if p.required else ""
        return f"QueryParam(QueryKind.{kind.name}{enum}{required})"
    return kind.name


def query_constants(resource: Resource) -> list[str]:
    """The shared QueryParam constants (``INTEGER``, ...) a resource module's operations use."""
    names = {
        query_kind(p).name
        for op in resource.operations
        for p in op.query_parameters
        if not (p.type.enum or p.required)
    }
    return sorted(names)


def operation_constant(operation_id: str) -> str:
    """The module constant holding an operation's facts: "getContactsKey" -> GET_CONTACTS_KEY."""
    return snake(operation_id).upper()


def query_entry(p: Parameter, indent: int = 12) -> str:
    """``"name": QueryParam(...),`` as black writes it at ``indent``: one line when it fits, else
    the call's arguments split the way black splits them (so black need not read the file)."""
    pad = " " * indent
    head = f"{pad}{json.dumps(p.name)}: "
    value = query_param(p)
    if len(head) + len(value) + 1 <= LINE_LENGTH or not value.startswith("QueryParam("):
        return f"{head}{value},"
    args = [f"QueryKind.{query_kind(p).name}"]
    if p.type.enum:
        args.append(f"enum={pytuple(p.type.enum)}")
    if p.required:
        args.append("required=True")
    inner = " " * (indent + 4)
    joined = ", ".join(args)
    if len(inner) + len(joined) <= LINE_LENGTH:
        return f"{head}QueryParam(\n{inner}{joined}\n{pad}),"
    lines = []
    for arg in args:
        if len(inner) + len(arg) + 1 > LINE_LENGTH and arg.startswith("enum=("):
            items = "".join(
                f"{inner}    {json.dumps(v, ensure_ascii=False)},\n" for v in p.type.enum
            )
            lines.append(f"{inner}enum=(\n{items}{inner}),")
        else:
            lines.append(f"{inner}{arg},")
    body = "\n".join(lines)
    return f"{head}QueryParam(\n{body}\n{pad}),"


def path_dict(params: Iterable[Parameter]) -> str:
    """``{"key": key}``: the path parameters of a call, as black writes a short dict."""
    return "{" + ", ".join(f"{json.dumps(p.name)}: {p.py_name}" for p in params) + "}"


def pytuple(values: tuple[str, ...]) -> str:
    """A tuple literal black keeps on one line (no magic trailing comma unless it needs one)."""
    inner = ", ".join(json.dumps(v, ensure_ascii=False) for v in values)
    return f"({inner},)" if len(values) == 1 else f"({inner})"


def docstring(text: str, indent: int = 0) -> str:
    """Text made safe for a triple-quoted docstring: HTML dropped, backslashes and quotes escaped."""
    text = re.sub(r"<br\s*/?>", "\n", text or "")
    text = re.sub(r"<[^>]+>", "", text)
    text = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    lines = [line.rstrip() for line in text.strip().split("\n")]
    cleaned: list[str] = []
    for line in lines:
        if line or (cleaned and cleaned[-1]):
            cleaned.append(line.strip() if not line.startswith("  ") else line[2:].rstrip())
    while cleaned and not cleaned[-1]:
        cleaned.pop()
    if cleaned and cleaned[-1].endswith('"'):
        cleaned[-1] += " "  # a docstring may not end in a quote
    pad = " " * indent
    return ("\n" + pad).join(cleaned).replace("\n" + pad + "\n", "\n\n")


def one_line(text: str) -> str:
    return " ".join(docstring(text).split())


# -- what the templates see ------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelModule:
    name: str
    models: tuple[Model, ...]
    imports: tuple[tuple[str, tuple[str, ...]], ...]  # (module, names) of other model modules
    needs: frozenset[str]  # runtime names and typing helpers used


def _type_names(t: TypeRef) -> set[str]:
    if t.kind == "model" and t.model:
        return {t.model}
    if t.kind == "list" and t.item:
        return _type_names(t.item)
    return set()


def _model_modules(api: Api) -> list[ModelModule]:
    module_of = {m.name: m.module for m in api.models}
    grouped: dict[str, list[Model]] = defaultdict(list)
    for model in api.models:
        grouped[model.module].append(model)
    modules = []
    for name in sorted(grouped):
        models = _dependency_order(grouped[name])
        imports: dict[str, set[str]] = defaultdict(set)
        needs: set[str] = set()
        for model in models:
            needs.add("RequestModel" if model.role == "request" else "SageModel")
            for f in model.fields:
                annotation = field_annotation(f.type, model.role)
                needs.update(re.findall(r"\b(Decimal|RequestDecimal|LenientDateTime|LenientDate"
                                        r"|Literal|Any|dt)\b", annotation))  # fmt: skip
                if f.py_name != f.name:
                    needs.add("Field")
                for ref in _type_names(f.type):
                    if module_of[ref] != name:
                        imports[module_of[ref]].add(ref)
        modules.append(
            ModelModule(
                name=name,
                models=tuple(models),
                imports=tuple((m, tuple(import_order(n))) for m, n in sorted(imports.items())),
                needs=frozenset(needs),
            )
        )
    return modules


def _dependency_order(models: list[Model]) -> list[Model]:
    """Models a module defines, referenced ones first where possible (cycles keep spec order)."""
    names = {m.name for m in models}
    ordered: list[Model] = []
    placed: set[str] = set()
    visiting: set[str] = set()
    by_name = {m.name: m for m in models}

    def place(model: Model) -> None:
        if model.name in placed or model.name in visiting:
            return
        visiting.add(model.name)
        for f in model.fields:
            for ref in sorted(_type_names(f.type) & names):
                place(by_name[ref])
        visiting.discard(model.name)
        placed.add(model.name)
        ordered.append(model)

    for model in models:
        place(model)
    return ordered


def _resource_imports(resource: Resource, api: Api) -> list[tuple[str, tuple[str, ...]]]:
    module_of = {m.name: m.module for m in api.models}
    imports: dict[str, set[str]] = defaultdict(set)
    for op in resource.operations:
        for name in (op.response.model, op.body.model if op.body else None):
            if name:
                imports[module_of[name]].add(name)
        if op.body:  # the body parameter also takes the model's TypedDict
            imports[module_of[op.body.model]].add(typed_dicts.params_name(op.body.model))
    return [(m, tuple(import_order(n))) for m, n in sorted(imports.items())]


def _environment(templates: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters.update(
        docstring=docstring,
        one_line=one_line,
        field_annotation=field_annotation,
        param_annotation=param_annotation,
        query_param=query_param,
        query_entry=query_entry,
        operation_constant=operation_constant,
        pytuple=pytuple,
        path_dict=path_dict,
        import_order=import_order,
        import_block=import_block,
        from_import=from_import,
        pyrepr=repr,
        json=lambda v: json.dumps(v, ensure_ascii=False),
    )
    env.globals.update(
        uses_kind=_uses_kind,
        uses_enum=_uses_enum,
        from_import=from_import,
        query_constants=query_constants,
    )
    typed_dicts.install(env)
    return env


def import_order(names: Iterable[str]) -> list[str]:
    """Names of one ``from x import ...`` in isort's order: CONSTANTS, Classes, then the rest."""

    def key(name: str) -> tuple[int, str]:
        kind = 0 if name.isupper() and len(name) > 1 else 1 if name[:1].isupper() else 2
        return kind, name

    return sorted(names, key=key)


_THIRD_PARTY = {"pydantic", "typing_extensions"}


def from_import(module: str, names: Iterable[str], indent: int = 0) -> str:
    """``from module import names`` as black writes it: one line if it fits, else one name a
    line in parentheses (writing black's form saves black a second pass over the file)."""
    pad = " " * indent
    names = list(names)
    line = f"{pad}from {module} import {', '.join(names)}"
    if len(line) <= LINE_LENGTH:
        return line
    body = "".join(f"{pad}    {name},\n" for name in names)
    return f"{pad}from {module} import (\n{body}{pad})"


def import_block(imports: Mapping[str, Iterable[str]]) -> str:
    """``{module: names}`` as isort/ruff would write it: __future__, standard library, third
    party, then this package (furthest relative first); a module mapped to ``()`` is a plain
    ``import`` (``"datetime as dt": ()``)."""
    sections: dict[int, list[tuple[tuple[int, int, str], str]]] = defaultdict(list)
    for module, names in imports.items():
        names = import_order(set(names))
        line = f"import {module}" if not names else from_import(module, names)
        if module == "__future__":
            section = 0
        elif module.startswith("."):
            section = 3
        elif module.split(".")[0] in _THIRD_PARTY:
            section = 2
        else:
            section = 1
        dots = len(module) - len(module.lstrip("."))
        sections[section].append(((0 if not names else 1, -dots, module.lstrip(".")), line))
    return "\n\n".join(
        "\n".join(line for _key, line in sorted(sections[s])) for s in sorted(sections)
    )


def _uses_kind(resource: Resource, *kinds: str) -> bool:
    return any(p.type.kind in kinds for op in resource.operations for p in op.parameters)


def _uses_enum(resource: Resource) -> bool:
    """A parameter typed as Literal[...] (the resource module imports Literal)."""
    return any(p.type.enum for op in resource.operations for p in op.parameters)


# -- rendering -------------------------------------------------------------------------------------


def render_package(
    api: Api,
    templates: Path = DEFAULT_TEMPLATES,
    jobs: int = 1,
    reuse_from: Path | None = None,
) -> dict[str, RenderedFile]:
    """Every generated file of the package, rendered and black-formatted, keyed by relative path.

    With ``reuse_from`` (the package directory), a file whose unformatted render is the same as at
    the last generation, formatted by the same black, and untouched since, is taken as it is
    instead of being formatted again: black is most of the cost, and the result is identical.
    """
    env = _environment(templates)
    header = env.get_template("_header.py.jinja").render(api=api).rstrip("\n")
    raw: dict[str, str] = {}

    def put(path: str, template: str, **context: object) -> None:
        body = env.get_template(template).render(api=api, **context)
        raw[path] = f"{header}\n{body.lstrip()}"

    put("__init__.py", "package_init.py.jinja")
    put("_client.py", "client.py.jinja")
    modules = _model_modules(api)
    put(
        "models/__init__.py",
        "models_init.py.jinja",
        modules=modules,
        model_names=sorted(m.name for m in api.models),
    )
    for module in modules:
        put(f"models/{module.name}.py", "model_module.py.jinja", module=module)
    put("resources/__init__.py", "resources_init.py.jinja")
    for resource in api.resources:
        put(
            f"resources/{resource.name}.py",
            "resource.py.jinja",
            resource=resource,
            imports_of_models=_resource_imports(resource, api),
        )
    previous = _reusable(reuse_from) if reuse_from else {}
    files: dict[str, RenderedFile] = {}
    to_format: dict[str, str] = {}
    for path, source in raw.items():
        key = _sha(source)
        text = previous.get((path, key))
        if text is not None:
            files[path] = RenderedFile(text, key)
        else:
            to_format[path] = source
    to_black = {path: source for path, source in to_format.items() if needs_black(source)}
    for path, source in to_format.items():
        if path not in to_black:
            _check_syntax(path, source)
            files[path] = RenderedFile(source, _sha(source))
    for path, text in _format_all(to_black, jobs).items():
        files[path] = RenderedFile(text, _sha(to_black[path]))
    files["py.typed"] = RenderedFile("", _sha(""))
    tool_schemas = render_tool_schemas(api)  # JSON for sage_accounting.agents: not black's
    files["_tool_schemas.json"] = RenderedFile(tool_schemas, _sha(tool_schemas))
    return dict(sorted(files.items()))


@dataclass(frozen=True)
class RenderedFile:
    text: str
    rendered_sha256: str  # of the template output before black: the key for reuse


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _reusable(package_dir: Path) -> dict[tuple[str, str], str]:
    """(path, rendered sha) -> formatted text, for files the last generation left intact."""
    manifest = read_manifest_data(package_dir)
    if manifest.get("black") != BLACK_VERSION:
        return {}
    reusable = {}
    for path, entry in (manifest.get("files") or {}).items():
        if not isinstance(entry, dict):
            continue
        try:
            text = (package_dir / path).read_text(encoding="utf-8")
        except OSError:
            continue
        if _sha(text) == entry.get("sha256"):
            reusable[(path, str(entry.get("rendered_sha256")))] = text
    return reusable


def needs_black(source: str) -> bool:
    """Whether black may change this template output: it has a code line over the line length.

    The templates write black's form (imports, signatures, blank lines, trailing commas), so what
    black still rewrites is a line too long, such as a long ``Literal[...]`` enum. Long lines inside
    docstrings or marked ``# fmt: skip`` are left alone by black too. The rule errs towards black
    (a long line black cannot split still goes through it), and CI proves it: ``make lint`` runs
    ``black --check`` over the committed package and ``make check-generated`` shows the committed
    package is exactly what the generator writes.
    """
    in_docstring = False
    for line in source.splitlines():
        quotes = line.count('"""')
        if (
            len(line) > LINE_LENGTH
            and not in_docstring
            and not quotes
            and not line.endswith("# fmt: skip")
        ):
            return True
        if quotes % 2:
            in_docstring = not in_docstring
    return False


def _check_syntax(path: str, source: str) -> None:
    """A file black does not read is still parsed: a template bug fails here, not at import."""
    try:
        ast.parse(source, filename=path)
    except SyntaxError as exc:
        raise RuntimeError(f"generated {path} is not valid Python: {exc}") from None


def black_mode() -> Any:
    """The black settings of the package (black.Mode; black is imported here, when needed)."""
    import black
    from black.mode import TargetVersion

    return black.Mode(line_length=LINE_LENGTH, target_versions={TargetVersion.PY311})


def _format_one(item: tuple[str, str]) -> tuple[str, str]:
    import black
    from black.parsing import InvalidInput

    path, source = item
    try:
        return path, black.format_str(source, mode=black_mode())
    except InvalidInput as exc:  # a template bug: show where
        raise RuntimeError(f"generated {path} is not valid Python: {exc}") from None


def _format_all(files: Mapping[str, str], jobs: int) -> dict[str, str]:
    # Largest first, one at a time: the workers finish together (_operations.py alone is ~8 %).
    items = sorted(files.items(), key=lambda item: -len(item[1]))
    if jobs <= 1 or len(items) < 8:
        return dict(map(_format_one, items))
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        return dict(pool.map(_format_one, items, chunksize=1))


# -- writing ---------------------------------------------------------------------------------------


def manifest_for(api: Api, files: Mapping[str, RenderedFile]) -> str:
    data = {
        "generator": "sage-codegen",
        "note": "Generated files of this package, with their sha256. Do not edit them by hand.",
        "spec": {"digest": api.spec_digest, "documents": dict(api.spec_files)},
        "black": BLACK_VERSION,
        "files": {
            path: {"sha256": _sha(f.text), "rendered_sha256": f.rendered_sha256}
            for path, f in files.items()
        },
    }
    return json.dumps(data, indent=2) + "\n"


def read_manifest_data(package_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((package_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def read_manifest(package_dir: Path) -> list[str]:
    """The generated files the package's manifest lists."""
    files = read_manifest_data(package_dir).get("files")
    return sorted(files) if isinstance(files, dict) else []


def write_package(api: Api, files: Mapping[str, RenderedFile], package_dir: Path) -> list[str]:
    """Put rendered files in place; delete stale generated files. Returns the deleted paths."""
    package_dir.mkdir(parents=True, exist_ok=True)
    old = read_manifest(package_dir)
    for path, rendered in files.items():
        if path.split("/", 1)[0] == RUNTIME_DIR:
            raise RuntimeError(f"refusing to write {path}: the runtime is hand-written")
        target = package_dir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_file() and target.read_text(encoding="utf-8") == rendered.text:
            continue
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(rendered.text)
        os.replace(tmp, target)
    stale = sorted(set(old) - set(files))
    for path in stale:
        if path.split("/", 1)[0] != RUNTIME_DIR:
            (package_dir / path).unlink(missing_ok=True)
    (package_dir / MANIFEST).write_text(manifest_for(api, files), encoding="utf-8", newline="\n")
    return stale
