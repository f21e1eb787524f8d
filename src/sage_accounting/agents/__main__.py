"""``python -m sage_accounting.agents agents|audit|mcp ...`` (the ``[agents]`` extra).

Without the extra, one line says what to install (exit 5, as the ``sage-accounting`` command
does), not a traceback."""

import sys

try:
    from .cli import main
except ModuleNotFoundError as exc:
    if exc.name != "click":
        raise
    print(
        "python -m sage_accounting.agents: needs the [agents] extra (missing module 'click'): "
        "pip install 'sage-accounting[agents]'",
        file=sys.stderr,
    )
    raise SystemExit(5) from None

main()
