"""Reading YAML config files: one place that turns file and syntax problems into ConfigErrors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from proclab.errors import ConfigError


def read_yaml_mapping(path: str | Path, *, allow_empty: bool = False) -> dict[str, Any]:
    """The top-level mapping of a YAML config file; errors name the file (and line)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError("config file not found", where=str(path), fix="check the path")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"not valid YAML: {err}", where=where) from None
    except UnicodeDecodeError:
        raise ConfigError("not a text file", where=str(path), fix="pass a YAML file") from None
    if raw is None and allow_empty:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(
            "expected a mapping of option names to values at the top level", where=str(path)
        )
    return raw
