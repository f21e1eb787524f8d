"""Import cost: `import sage_accounting` vs `import httpx, pydantic` (target <= 1.15x), and
import + build a client + touch `client.sales_invoices` (target <= 1.5x), in fresh interpreters."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _timing import interleaved, python_code, report  # noqa: E402

REPEAT = 15
BASELINE = "import httpx, pydantic"
IMPORT = "import sage_accounting"
TOUCH = (
    "import sage_accounting\n"
    "client = sage_accounting.SageAccounting(access_token='t')\n"
    "client.sales_invoices\n"
)


def main() -> bool:
    python_code(TOUCH)()  # warm the bytecode caches once
    subject, baseline = interleaved(python_code(IMPORT), python_code(BASELINE), REPEAT)
    ok = report("import sage_accounting", subject, baseline, 1.15)
    subject, baseline = interleaved(python_code(TOUCH), python_code(BASELINE), REPEAT)
    ok &= report("import + client + client.sales_invoices", subject, baseline, 1.5)
    return ok


if __name__ == "__main__":
    main()
