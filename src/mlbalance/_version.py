"""The version of mlbalance (what run directories record; ``pyproject.toml`` holds the same)."""

__version__ = "0.1.0"
