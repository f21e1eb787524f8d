"""English number for Sage's resource names (snake_case, only the last word inflected), for the
SDK's apps: the audit log's "created sales invoice" (``singular``) and the sandbox's
``contact_id`` -> ``contacts`` (``plural``). The generator keeps its own copy of ``singular``
(``sage_codegen.naming``: it shapes generated names and runs without importing the SDK);
tests/test_inflect.py checks that the two agree on every resource.
"""

from __future__ import annotations


def singular(name: str) -> str:
    """``invoice_lines`` -> ``invoice_line``, ``artefact_statuses`` -> ``artefact_status``."""
    head, _, last = name.rpartition("_")
    if last.endswith("ies") and len(last) > 3:
        last = last[:-3] + "y"
    elif last.endswith(("sses", "xes", "ches", "shes", "uses")):
        last = last[:-2]
    elif last == "people":
        last = "person"
    elif last.endswith("s") and not last.endswith(("ss", "us", "is")):
        last = last[:-1]
    return f"{head}_{last}" if head else last


def plural(name: str) -> str:
    """``contact`` -> ``contacts``, ``status`` -> ``statuses``, ``country`` -> ``countries``
    (``contact_person`` -> ``contact_persons``: Sage's resource, not "people")."""
    head, _, last = name.rpartition("_")
    if last.endswith(("s", "x", "ch", "sh")):
        last += "es"
    elif last.endswith("y") and last[-2:-1] not in "aeiou":
        last = last[:-1] + "ies"
    else:
        last += "s"
    return f"{head}_{last}" if head else last
