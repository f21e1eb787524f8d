"""What a user gets from `pip install sage-accounting` and nothing else (run by `make dist-check`
with the Python of a fresh venv holding only the SDK wheel and its dependencies).

Not a pytest module: it runs where pytest is not installed. Each check prints one line; the
first failure stops it with exit 1 and says what was wrong.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import sysconfig
from decimal import Decimal
from pathlib import Path

import sage_accounting
from sage_accounting import NotFoundError
from sage_accounting.models import SalesInvoiceCreateParams, SalesInvoiceLineCreateParams
from sage_accounting.testing import SageSandbox

SCRIPTS = Path(sysconfig.get_path("scripts"))
SITE_PACKAGES = Path(sysconfig.get_path("purelib"))
INSTALL_HINT = "pip install 'sage-accounting[cli]'"
EXIT_MISSING_EXTRA = 5  # README, "Command line": a needed extra is not installed


def check(condition: bool, what: str) -> None:
    if not condition:
        sys.exit(f"dist-check FAILED: {what}")
    print(f"ok: {what}")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)


def the_installed_package_is_the_wheel() -> None:
    where = Path(sage_accounting.__file__).resolve()
    check(where.is_relative_to(SITE_PACKAGES.resolve()), f"sage_accounting imported from {where}")
    check(not (where.parent / "_runtime" / "README.md").exists(), "_runtime/README.md not shipped")
    # The checkout's two roots (generated/, src/) are one folder in the wheel.
    paths = [str(Path(p).resolve()) for p in sage_accounting.__path__]
    check(paths == [str(where.parent)], f"one package folder: {paths}")
    for part in ("_client.py", "models", "resources", "_runtime", "agents", "cli", "testing"):
        check((where.parent / part).exists(), f"{part} in the wheel's sage_accounting/")
    check((where.parent / "py.typed").is_file(), "py.typed in the wheel")


def no_generator_and_no_extras() -> None:
    for module in ("sage_codegen", "jinja2", "black", "click", "mcp"):
        check(importlib.util.find_spec(module) is None, f"{module} is not installed")
    check(not (SCRIPTS / "sage-codegen").exists(), "no sage-codegen script")


def commands_without_their_extra_say_what_to_install() -> None:
    script = run(str(SCRIPTS / "sage-accounting"), "whoami")
    check(
        script.returncode == EXIT_MISSING_EXTRA
        and script.stderr.strip().count("\n") == 0
        and INSTALL_HINT in script.stderr
        and "Traceback" not in script.stderr,
        f"sage-accounting without [cli]: exit {script.returncode}, {script.stderr.strip()!r}",
    )
    agents = run(sys.executable, "-m", "sage_accounting.agents", "mcp", "--policy", "p.toml")
    check(
        agents.returncode == EXIT_MISSING_EXTRA
        and "pip install 'sage-accounting[agents]'" in agents.stderr
        and "Traceback" not in agents.stderr,
        f"python -m sage_accounting.agents without [agents]: exit {agents.returncode}, "
        f"{agents.stderr.strip()!r}",
    )


def the_sandbox_serves_the_sdk() -> None:
    with SageSandbox() as sage, sage.client(timeout=10.0) as client:
        contacts = list(client.contacts.list(attributes=["name", "balance"]))
        check(len(contacts) > 0, f"listed {len(contacts)} contacts from the sandbox")
        ledger = next(
            a for a in client.ledger_accounts.list(attributes="all") if a.nominal_code == 4000
        )
        # Every record the sandbox lists has an id; the model types each field optional.
        assert ledger.id is not None and contacts[0].id is not None
        line: SalesInvoiceLineCreateParams = {
            "description": "Shelving",
            "ledger_account_id": ledger.id,
            "quantity": Decimal("3"),
            "unit_price": Decimal("0.10"),
            "tax_rate_id": "GB_STANDARD",
            "tax_amount": Decimal("0.06"),
        }
        body: SalesInvoiceCreateParams = {
            "contact_id": contacts[0].id,
            "date": "2026-11-20",
            "invoice_lines": [line],
        }
        created = client.sales_invoices.create(sales_invoice=body)
        assert created.id is not None
        read = client.sales_invoices.get(created.id)
        check(
            read.id == created.id and read.total_amount == Decimal("0.36"),
            f"created and read back invoice {read.displayed_as}, total {read.total_amount!r}",
        )
        check(isinstance(read.total_amount, Decimal), "money is a Decimal")
        try:
            client.contacts.get("no-such-contact")
        except NotFoundError as error:
            check(error.status_code == 404, f"a missing record raises NotFoundError: {error}")
        else:
            check(False, "a missing record raises NotFoundError")


if __name__ == "__main__":
    the_installed_package_is_the_wheel()
    no_generator_and_no_extras()
    commands_without_their_extra_say_what_to_install()
    the_sandbox_serves_the_sdk()
    print("dist-check: the SDK wheel works on its own")
