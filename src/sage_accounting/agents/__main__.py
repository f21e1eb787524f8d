"""``python -m sage_accounting.agents agents|audit|mcp ...`` (the ``[agents]`` extra).

Without the extra, one line says what to install (exit 5, as the ``sage-accounting`` command
does), not a traceback."""

import sys

from ..cli.exit_codes import EXIT_MISSING_EXTRA, missing_extra

try:
    from .cli import main
except ModuleNotFoundError as exc:
    if exc.name != "click":
        raise
    print(missing_extra("python -m sage_accounting.agents:", "agents", "click"), file=sys.stderr)
    raise SystemExit(EXIT_MISSING_EXTRA) from None

main()
