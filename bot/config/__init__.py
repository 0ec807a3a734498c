"""Domain configuration as data: routing and departments (YAML, validated on load)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

CONFIG_DIR = Path(__file__).resolve().parent


class ConfigError(ValueError):
    """A configuration file is malformed; the message names the file and the key."""


def load_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML mapping, with a clear error for a missing file or broken YAML."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def require(mapping: dict, key: str, path: Path, where: str, kind: type | tuple = str):
    """Return ``mapping[key]``, or raise ConfigError naming the file and the key."""
    if key not in mapping:
        raise ConfigError(f"{path}: {where}: missing key '{key}'")
    value = mapping[key]
    if not isinstance(value, kind):
        raise ConfigError(
            f"{path}: {where}.{key}: expected {getattr(kind, '__name__', kind)}, got {value!r}"
        )
    return value
