"""``sage-accounting``: the command line (the ``[cli]`` extra: ``pip install 'sage-accounting[cli]'``).

``main`` is the console script. It imports click only when run, and a user without the extra
gets one line saying what to install instead of a traceback.
"""

from __future__ import annotations

import sys

from .exit_codes import EXIT_MISSING_EXTRA


def main() -> None:
    try:
        import click  # noqa: F401
    except ModuleNotFoundError as exc:
        if exc.name != "click":
            raise
        print(
            "sage-accounting: the command line needs the [cli] extra: "
            "pip install 'sage-accounting[cli]'",
            file=sys.stderr,
        )
        raise SystemExit(EXIT_MISSING_EXTRA) from None
    from ._app import cli

    cli(prog_name="sage-accounting")
