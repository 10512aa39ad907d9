"""The exception hierarchy of mlbalance.

Every error the library raises on purpose derives from :class:`MlbalanceError`, so a caller (and the
CLI, which turns them into a one-line message and a non-zero exit code) can catch them all at once.
"""

from __future__ import annotations


class MlbalanceError(Exception):
    """Base class of every error mlbalance raises on purpose."""


class DataError(MlbalanceError, ValueError):
    """Input data is missing, malformed or inconsistent (names the file, line/id, value, expectation)."""


class ConfigError(MlbalanceError, ValueError):
    """A configuration value, flag or config file is invalid."""


class RunError(MlbalanceError):
    """A run directory is missing, incomplete or of an incompatible format."""
