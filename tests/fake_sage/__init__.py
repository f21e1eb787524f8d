"""A fake Sage Accounting server for tests and scripts (see server.py)."""

from .server import FakeClock, FakeSage, Fault

__all__ = ["FakeClock", "FakeSage", "Fault"]
