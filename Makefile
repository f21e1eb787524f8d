# The maintainer's commands. Everything runs in .venv, created and filled on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Where `make spec` copies Sage's documents from; a maintainer with newer ones points it elsewhere.
SPEC_SOURCE ?= ../shared/spec/current
export SPEC_SOURCE

.PHONY: install spec spec-lock generate check-generated lint format test bench diff-spec clean docs docs-check \
	dist-check inspector test-mcp-versions test-pydantic-versions

install: $(VENV)/.installed

# Two distributions, both editable: the SDK (pyproject.toml, with the dev extra; a .pth of its two
# roots, generated/ and src/) and the generator (generator/pyproject.toml, `sage-codegen`, which
# depends on the SDK: pip takes the editable one given here, never the registry's).
$(VENV)/.installed: pyproject.toml generator/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]' -e ./generator
	touch $@

## spec: copy the documents named in spec/spec.lock.json from SPEC_SOURCE, checking sha256
spec: install
	$(BIN)/sage-codegen spec fetch --source "$(SPEC_SOURCE)"

## spec-lock SPEC_SOURCE=DIR: pin the API documents DIR holds (found by content, any names) in
## spec/spec.lock.json and copy them into spec/; duplicates and other JSON are listed and left out
spec-lock: install
	$(BIN)/sage-codegen spec lock --source "$(SPEC_SOURCE)"

## generate: spec + overlays + render (templates/) + black-format generated/sage_accounting; prints the spec
## warnings (STRICT=1: any warning is an error)
generate: spec
	$(BIN)/sage-codegen generate $(if $(STRICT),--strict)

## check-generated: fail (with a summary) if the committed package differs from a regeneration
check-generated: spec
	$(BIN)/sage-codegen check

# Where each file's module name comes from: sage_accounting is one package from two roots.
MYPY_ROOTS := MYPYPATH=generated:src:generator
HAND_WRITTEN := src generator tests bench examples docs/scripts

lint: install
	$(BIN)/ruff check $(HAND_WRITTEN) generated
	$(BIN)/black --check --quiet $(HAND_WRITTEN) generated
	$(MYPY_ROOTS) $(BIN)/mypy --explicit-package-bases generated/sage_accounting src/sage_accounting \
		generator/sage_codegen generator/hatch_build.py
	# A user's script, type-checked as users check theirs. The SDK's editable install is a plain
	# .pth of generated/ and src/, which mypy follows; `make dist-check` checks it against the wheel.
	$(BIN)/mypy tests/typing
	# The scripts around the package (benchmarks, examples, the docs' scripts): strict too, each
	# folder a root of its own (bench/ imports its _timing, and tests/servers for its servers).
	$(MYPY_ROOTS):bench:tests $(BIN)/mypy --explicit-package-bases bench examples docs/scripts
	# All of tests/, strict, a root of its own (tests import conftest, servers, present, ...);
	# tests/typing is checked above, as a user's script.
	$(MYPY_ROOTS):tests $(BIN)/mypy --explicit-package-bases --exclude '^tests/typing/' tests

format: install
	$(BIN)/ruff check --fix-only --quiet $(HAND_WRITTEN)
	$(BIN)/black --quiet $(HAND_WRITTEN)

test: spec
	$(BIN)/pytest -q

## inspector: the MCP Inspector (npm) and the Node 22 it needs, in build/inspector (not committed);
## tests/test_agents_mcp.py drives the MCP server with it over stdio and HTTP
INSPECTOR_DIR := build/inspector
INSPECTOR_VERSION := 2.12.0
inspector: $(INSPECTOR_DIR)/.installed
$(INSPECTOR_DIR)/.installed:
	mkdir -p $(INSPECTOR_DIR)
	npm install --silent --no-audit --no-fund --prefix $(INSPECTOR_DIR) \
		node@22 @modelcontextprotocol/inspector@$(INSPECTOR_VERSION)
	touch $@

MAIN_SITE = $(shell $(BIN)/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')

# $(call at_versions,PACKAGE,LOWEST,RANGE,TESTS): TESTS again at the lowest and the newest PACKAGE
# that RANGE allows, each in a small venv under build/ that holds only that PACKAGE and reads
# everything else from .venv.
define at_versions
	@for spec in "$(1)==$(2)" "$(3)"; do \
		dir=build/$(1)-venv-$$(echo "$$spec" | tr -c 'a-z0-9.' '_'); \
		if [ ! -x $$dir/bin/python ]; then \
			$(PYTHON) -m venv $$dir && \
			site=$$($$dir/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))') && \
			echo "import site; site.addsitedir('$(abspath $(MAIN_SITE))')" > $$site/zz_main_venv.pth; \
		fi; \
		$$dir/bin/pip install --quiet --upgrade "$$spec" || exit 1; \
		echo "== $(4) with $(1) $$($$dir/bin/python -c 'import importlib.metadata as m; print(m.version("$(1)"))')"; \
		$$dir/bin/python -m pytest -q -p no:randomly $(4) || exit 1; \
	done
endef

## test-mcp-versions: the MCP tests at the lowest and the newest mcp the [agents] extra allows
MCP_LOWEST := 2.0.0
MCP_RANGE := mcp>=2.0,<3
test-mcp-versions: spec
	$(call at_versions,mcp,$(MCP_LOWEST),$(MCP_RANGE),tests/test_agents_mcp.py)

## test-pydantic-versions: the lazy records' tests at the lowest and the newest pydantic the SDK
## allows (a list page's records set pydantic's own instance state when they are made whole, and
## their dumps are validated by a schema derived from pydantic's core schema of each model)
PYDANTIC_LOWEST := 2.11.0
PYDANTIC_RANGE := pydantic>=2.11,<3
test-pydantic-versions: spec
	$(call at_versions,pydantic,$(PYDANTIC_LOWEST),$(PYDANTIC_RANGE),tests/test_list_records.py tests/test_decoding.py tests/test_real_pages.py)

bench: spec
	$(BIN)/python bench/run_all.py

## dist-check: build both wheels; in a fresh venv with the SDK wheel alone, mypy --strict on
## tests/typing and a smoke test against the sandbox (no generator, extras' commands give the
## install hint); in another, the sage-codegen wheel regenerates the committed package
dist-check: spec
	BIN=$(BIN) PYTHON=$(PYTHON) tests/dist/run.sh

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache site build generator/build

## diff-spec NEW=<dir>: what a candidate spec changes and breaks compared with the pinned one
diff-spec: spec
	@test -n "$(NEW)" || (echo "usage: make diff-spec NEW=<directory of new documents>" >&2; exit 2)
	$(BIN)/sage-codegen diff spec --against "$(NEW)"

## docs: the documentation site in site/, built with --strict (any warning fails the build)
# MkDocs 1.x plugins print a long notice about MkDocs 2 on every build; the pin in the `docs`
# extra keeps us on 1.x, so the notice is only noise.
DOCS_ENV := NO_MKDOCS_2_WARNING=1 DISABLE_MKDOCS_2_WARNING=true

$(VENV)/.docs-installed: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[dev,docs]'
	touch $@

docs: $(VENV)/.docs-installed
	$(DOCS_ENV) $(BIN)/mkdocs build --strict --quiet

## docs-check: headless chromium opens the built site (quickstart, sales-invoices reference)
docs-check: docs
	$(BIN)/python docs/scripts/check_site.py site --out build/docs-check
