"""Reading YAML config files: one place that turns file and syntax problems into ConfigErrors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from proclab.errors import ConfigError
from proclab.limits import check_file_size
from proclab.yamlsafe import load_yaml


def read_yaml_mapping(path: str | Path, *, allow_empty: bool = False) -> dict[str, Any]:
    """The top-level mapping of a YAML config file; errors name the file (and line). Size,
    alias expansion and nesting are bounded (`proclab.limits`)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError("config file not found", where=str(path), fix="check the path")
    check_file_size(path, "document_bytes")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError("not a text file", where=str(path), fix="pass a YAML file") from None
    raw = load_yaml(text, where=str(path))
    if raw is None and allow_empty:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(
            "expected a mapping of option names to values at the top level", where=str(path)
        )
    return raw


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """`["optim.max_steps=4", ...]` applied to a copy of `raw`; values are parsed as YAML."""
    out = json.loads(json.dumps(raw, default=str))
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"bad override {item!r}", fix="write --set section.key=value")
        node = out
        *parents, leaf = key.strip().split(".")
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"override {key}: {part} is not a section")
            node = child
        node[leaf] = load_yaml(value, where=f"--set {key.strip()}") if value.strip() else None
    return out
