"""The exit codes of ``sage-accounting`` and of every command other parts add to it (``agents``,
``audit``, ``mcp``, ``sandbox``, ``sync``; ``python -m sage_accounting.agents`` too). Imports
nothing: a process without click still exits with the right code when it says what to install.

  0  success
  1  Sage answered with an error (4xx, 5xx), or another SDK error
  2  usage: an unknown resource, option or value (before any request)
  3  authorization: not logged in, the login expired or was revoked, the OAuth flow failed
  4  Sage could not be reached (connection refused, timeout)
  5  a needed extra is not installed
130  interrupted (Ctrl-C)
"""

from __future__ import annotations

EXIT_SAGE_ERROR = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_CONNECTION = 4
EXIT_MISSING_EXTRA = 5
EXIT_INTERRUPTED = 130

EXIT_CODES_HELP = (
    "Exit codes: 0 success; 1 Sage answered with an error; 2 usage error; 3 not logged in or "
    "authorization failed; 4 Sage could not be reached; 5 a needed extra is not installed; "
    "130 interrupted."
)


def missing_extra(what: str, extra: str, module: str) -> str:
    """The one line that says which extra to install: ``what`` needs ``[extra]`` (for
    ``module``, which is missing)."""
    return (
        f"{what} needs the [{extra}] extra (missing module {module!r}): "
        f"pip install 'sage-accounting[{extra}]'"
    )
