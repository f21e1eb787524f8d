"""``python -m sage_accounting.cli``: the same as the ``sage-accounting`` command."""

from . import main

main()
