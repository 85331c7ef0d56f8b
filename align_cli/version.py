"""The package version (read by pyproject.toml, printed in every signature)."""

__version__ = "0.1.0"
