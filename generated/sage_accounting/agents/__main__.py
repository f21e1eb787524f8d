"""``python -m sage_accounting.agents agents|audit|mcp ...``"""

from .cli import main

main()
