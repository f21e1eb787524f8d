"""The README's and the docs site's examples, run as a user copies them, against the sandbox
(issue 23, point 5).

A snippet's placeholders (``"..."`` where the reader puts their own ids) are the only thing
replaced, each by a real record of the sandbox's demo business, in the order the snippet
names them; everything else runs as written. The sandbox's behaviour is Sage's: an invoice
created without ``status_id`` is issued at once (UNPAID), so releasing it is a 422 there too.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cli_support import ROOT, run
from doc_placeholders import fill_placeholders
from present import present

from sage_accounting import UnprocessableEntityError
from sage_accounting.testing import SageSandbox


def python_block(document: str, heading: str) -> str:
    """The first ```python block after ``heading`` in ``document``."""
    text = (ROOT / document).read_text(encoding="utf-8")
    after = text[text.index(heading) :]
    found = re.search(r"```python\n(.*?)```", after, re.S)
    assert found, f"{document}: no python block after {heading!r}"
    return found.group(1)


@pytest.mark.parametrize(
    ("document", "heading"), [("README.md", "## Quickstart"), ("docs/index.md", "## First calls")]
)
def test_the_quickstart_runs_to_its_last_step(
    document: str, heading: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "downloads").mkdir()
    with SageSandbox() as sage:
        monkeypatch.setenv("SAGE_BASE_URL", sage.base_url)  # how a user points it at the sandbox
        code = fill_placeholders(python_block(document, heading), sage)
        namespace: dict[str, Any] = {"__name__": "quickstart"}
        exec(compile(code, f"{document}:{heading}", "exec"), namespace)  # noqa: S102
        invoice = sage.records("sales_invoices")[namespace["invoice"].id]
        assert invoice["status"]["id"] == "UNPAID"  # created as a draft, then released
    if "write_to" in code:
        assert (tmp_path / "downloads" / "invoice.pdf").read_bytes() == b"%PDF-1.4 demo"


def test_releasing_an_issued_invoice_is_refused_as_sage_refuses_it() -> None:
    with SageSandbox() as sage:
        client = sage.client()
        code = fill_placeholders(python_block("README.md", "## Quickstart"), sage)
        body = code[code.index("sales_invoice={") + len("sales_invoice=") : code.index("\n)\n")]
        # The README's text, evaluated: untyped here, checked by the SDK as any body is.
        readme_body: Any = {
            k: v for k, v in eval(body, {"Decimal": Decimal}).items() if k != "status_id"
        }  # noqa: S307
        issued = client.sales_invoices.create(sales_invoice=readme_body)
        with pytest.raises(UnprocessableEntityError):
            client.sales_invoices.release(present(issued.id))


def test_the_readme_command_line_examples_run_against_the_sandbox(tmp_path: Path) -> None:
    """The `list`, `get` and `export` lines of the README's command-line section, as written
    (CONTACT ids and the like filled in)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Command line") : text.index("## Documentation")]
    lines = [
        line.split("#")[0].strip()
        for block in re.findall(r"```sh\n(.*?)```", section, re.S)
        for line in block.splitlines()
        if re.match(r"sage-accounting (list|get|export) ", line)
    ]
    assert len(lines) >= 6
    with SageSandbox() as sage:
        env = {"SAGE_ACCESS_TOKEN": sage.access_token, "SAGE_BASE_URL": sage.base_url,
               "SAGE_CONFIG_DIR": str(tmp_path / "config")}  # fmt: skip
        contact = next(iter(sage.records("contacts")))
        for line in lines:
            line = line.replace("4f7c...", contact).replace("7e2a...", sage.lead_business)
            line = line.replace("contacts.csv", str(tmp_path / "contacts.csv"))
            result = run(*line.split()[1:], env=env)
            assert result.exit_code == 0, (line, result.output)
