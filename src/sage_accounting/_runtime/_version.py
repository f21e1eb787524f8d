"""The package version (also the User-Agent's). pyproject.toml reads it from here."""

__version__ = "0.1.0"
