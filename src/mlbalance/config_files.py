"""Config files: a YAML or TOML file read as the flat mapping of settings that
:meth:`mlbalance.config.TrainConfig.from_mapping` and :meth:`~mlbalance.config.CompareConfig.from_mapping`
take (the format is described in :mod:`mlbalance.config`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlbalance.config import normalise_keys
from mlbalance.errors import ConfigError


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML (``.yaml``/``.yml``) or TOML (``.toml``) config file as a flat mapping.

    Keys are normalised (dashes → underscores). Relative paths in the file are resolved against the
    working directory, as on the command line.

    Raises:
        ConfigError: the file is missing, unreadable, malformed or not a mapping.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in {".yaml", ".yml", ".toml"}:
        raise ConfigError(
            f"config file {path}: expected a .yaml, .yml or .toml file, got {suffix or 'no suffix'!r}"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc}") from None
    if suffix == ".toml":
        try:
            import tomllib
        except ModuleNotFoundError:  # Python 3.10
            try:
                import tomli as tomllib  # type: ignore[no-redef]
            except ModuleNotFoundError:
                raise ConfigError("TOML config files need Python >= 3.11 or the 'tomli' package") from None
        try:
            data: Any = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    else:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {path} is not valid YAML: {' '.join(str(exc).split())}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: expected a mapping of settings, got {type(data).__name__}")
    try:
        return normalise_keys(data)
    except ConfigError as exc:
        raise ConfigError(f"config file {path}: {exc}") from None
