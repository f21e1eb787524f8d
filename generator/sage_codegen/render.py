"""Render the IR into the sage_accounting package's sources: Jinja templates, then black.

``render_sources`` gives each generated module's template output; ``render_package`` adds black
(only where needed, reusing what the last generation formatted) and the non-Python files. Writing
is ``package_io``'s job, spellings are ``spelling``'s, imports are ``imports``'s.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import jinja2

from . import typed_dicts
from .black_form import annotated_name, wrapped
from .formatting import check_syntax, format_all, needs_black
from .imports import Imports, from_import, import_block, import_order
from .inputs import DEFAULT_TEMPLATES
from .ir import Api, Resource
from .layout import (
    LaidOutResource,
    ModelModule,
    laid_out,
    model_modules,
    module_of_models,
)
from .package_io import RenderedFile, reusable_files, sha256
from .runtime_contract import operation_constant, query_constants, query_entry, query_param
from .spelling import (
    docstring,
    field_annotation,
    one_line,
    param_annotation,
    path_dict,
    pytuple,
)
from .tool_schemas import render_tool_schemas


def environment(templates: Path = DEFAULT_TEMPLATES) -> jinja2.Environment:
    """The Jinja environment of the templates, with the spellings as filters."""
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
        from_import=from_import,
        query_constants=query_constants,
        annotated=annotated_name,
        wrapped=wrapped,
    )
    typed_dicts.install(env)
    return env


# -- the imports of each generated module -----------------------------------------------------------


def model_module_imports(module: ModelModule, module_of: dict[str, str]) -> Imports:
    imports = Imports().add("__future__", "annotations")
    for model in module.models:
        imports.add(".._runtime", "RequestModel" if model.role == "request" else "SageModel")
        for f in model.fields:
            imports.add_for(field_annotation(f.type, model.role))
            imports.add_if(f.py_name != f.name, "pydantic", "Field")
            if ref := f.type.referenced_model:
                imports.add_if(module_of[ref] != module.name, "." + module_of[ref], ref)
    return imports


def models_init_imports(modules: list[ModelModule]) -> Imports:
    imports = Imports().add("__future__", "annotations").add("importlib")
    imports.add("typing", "TYPE_CHECKING", "Any")
    for module in modules:
        imports.add("." + module.name, *typed_dicts.exported_names(module), type_checking=True)
    return imports


def resource_imports(resource: Resource, module_of: dict[str, str]) -> Imports:
    """A resource module's imports; models only for type checking (imported on first call)."""
    ops = resource.operations
    lists = any(op.response.is_list for op in ops)
    singles = any(not op.response.is_list for op in ops)
    files = any(op.response.is_binary for op in ops)
    feeds = any(op.supports_changes for op in ops)
    enums = any(p.type.enum for op in ops for p in op.parameters)
    headers = any(op.header_parameters for op in ops)
    # Query parameters spelt QueryParam(QueryKind.X, ...) rather than a shared constant.
    custom_kinds = enums or any(p.required for op in ops for p in op.query_parameters)
    imports = Imports().add("__future__", "annotations")
    for op in ops:  # path parameters are plain str
        for p in op.query_parameters + op.header_parameters:
            imports.add_for(param_annotation(p))
    imports.add_if(feeds, "datetime as dt")  # the signature of ``changes``
    imports.add_if(feeds, "collections.abc", "Sequence")
    imports.add("typing", "Unpack")
    runtime = ".._runtime"
    imports.add(runtime, "AsyncAPIResource", "Operation", "RequestOptions", "SyncAPIResource")
    imports.add_if(lists, runtime, "AsyncPager", "SyncPager", "to_raw_page", "async_to_raw_page")
    imports.add_if(singles, runtime, "to_raw_response", "async_to_raw_response")
    imports.add_if(files, runtime, "to_streamed", "async_to_streamed")
    imports.add_if(custom_kinds, runtime, "QueryKind", "QueryParam")
    imports.add_if(headers, runtime, "with_headers")
    shared_kinds = query_constants(resource)
    imports.add_if(bool(shared_kinds), runtime + "._operation", *shared_kinds)
    if feeds:
        imports.add(runtime, "AsyncChangeFeed", "ChangeFeed", type_checking=True)
    for op in ops:
        for name in (op.response.model, op.body.model if op.body else None):
            if name:
                imports.add("..", "models")
                imports.add("..models." + module_of[name], name, type_checking=True)
        if op.body:  # the body parameter also takes the model's TypedDict
            body = op.body.model
            imports.add(
                "..models." + module_of[body], typed_dicts.params_name(body), type_checking=True
            )
    imports.add_if(imports.has_type_checking, "typing", "TYPE_CHECKING")
    return imports


def client_imports(resources: Sequence[LaidOutResource]) -> Imports:
    imports = Imports().add("__future__", "annotations").add("typing", "TYPE_CHECKING")
    imports.add("._runtime", "AsyncClient", "SyncClient")
    for r in resources:
        imports.add(
            ".resources." + r.name, r.class_name, "Async" + r.class_name, type_checking=True
        )
    return imports


# What ``import sage_accounting`` takes from the runtime at once, and what only on first use (OAuth
# and the token stores stay unloaded until asked for).
RUNTIME_EXPORTS = tuple("""
    APIConnectionError APIResponse APIResponseValidationError APIStatusError APITimeoutError
    ArgumentTypeError ArgumentValueError AsyncPager AuthenticationError BadRequestError
    BusinessMismatchError ClientClosedError ConflictError ErrorDetail InternalServerError
    MissingBusinessHeaderError MissingBusinessHeaderWarning MissingExtraError
    NoActiveSubscriptionError
    OutOfOrderError
    NotFoundError OAuthError Page PermissionDeniedError PreparedRequest RateLimit RateLimitError
    DailyLimitReached DailyQuotaExceededError DailyRateLimitError Quota QuotaBackendError
    QuotaExceededError QuotaHook QuotaLimits QuotaStatus HoldingHook
    ReauthorizationRequired RedirectError RequestHook RequestOptions RequestValidationError
    SageArgumentError SageError StateMismatchError SyncPager UnprocessableEntityError
    UntrustedURLError __version__
    """.split())
RUNTIME_ON_USE = tuple("""
    AsyncChangeFeed AuthorizationRequest Change ChangeFeed FileTokenStore MemoryTokenStore
    OAuthApp OAuthSession TokenSet TokenStore TokenStoreError
    """.split())


def package_init_imports() -> Imports:
    imports = Imports().add("typing", "TYPE_CHECKING", "Any")
    imports.add("._client", "AsyncSageAccounting", "SageAccounting")
    imports.add("._runtime", *RUNTIME_EXPORTS)
    return imports.add("._runtime", *RUNTIME_ON_USE, type_checking=True)


# -- rendering -------------------------------------------------------------------------------------


def render_sources(api: Api, templates: Path = DEFAULT_TEMPLATES) -> dict[str, str]:
    """Every generated Python module's template output (before black), keyed by relative path."""
    env = environment(templates)
    api = laid_out(api)
    header = env.get_template("_header.py.jinja").render(api=api).rstrip("\n")
    raw: dict[str, str] = {}

    def put(path: str, template: str, **context: object) -> None:
        body = env.get_template(template).render(api=api, **context)
        raw[path] = f"{header}\n{body.lstrip()}"

    module_of = module_of_models(api)
    put(
        "__init__.py",
        "package_init.py.jinja",
        imports=package_init_imports(),
        runtime_on_use=sorted(RUNTIME_ON_USE),
        # The package's public names: the clients and every runtime name it exports, one list.
        public_names=[
            "AsyncSageAccounting",
            "SageAccounting",
            *sorted(RUNTIME_EXPORTS + RUNTIME_ON_USE),
        ],
    )
    put("_client.py", "client.py.jinja", imports=client_imports(api.resources))
    modules = model_modules(api)
    put(
        "models/__init__.py",
        "models_init.py.jinja",
        modules=modules,
        model_names=typed_dicts.all_exported_names(modules),
        imports=models_init_imports(modules),
    )
    idempotent = typed_dicts.idempotent_bodies(api)
    for module in modules:
        imports = model_module_imports(module, module_of)
        put(
            f"models/{module.name}.py",
            "model_module.py.jinja",
            module=module,
            imports=typed_dicts.add_imports(imports, module, module_of, idempotent),
        )
    put("resources/__init__.py", "resources_init.py.jinja")
    for resource in api.resources:
        put(
            f"resources/{resource.name}.py",
            "resource.py.jinja",
            resource=resource,
            imports=resource_imports(resource, module_of),
        )
    return raw


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
    previous = reusable_files(reuse_from) if reuse_from else {}
    files: dict[str, RenderedFile] = {}
    to_black: dict[str, str] = {}
    for path, source in render_sources(api, templates).items():
        key = sha256(source)
        text = previous.get((path, key))
        if text is not None:
            files[path] = RenderedFile(text, key)
        elif needs_black(source):
            to_black[path] = source
        else:
            check_syntax(path, source)
            files[path] = RenderedFile(source, key)
    for path, text in format_all(to_black, jobs).items():
        files[path] = RenderedFile(text, sha256(to_black[path]))
    files["py.typed"] = RenderedFile("", sha256(""))
    tool_schemas = render_tool_schemas(api)  # JSON for sage_accounting.agents: not black's
    files["_tool_schemas.json"] = RenderedFile(tool_schemas, sha256(tool_schemas))
    return dict(sorted(files.items()))
