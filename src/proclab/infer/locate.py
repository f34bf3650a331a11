"""Resolve model and adapter names before loading, so a typo fails fast with a fixable error
instead of a hub lookup (which hangs or fails obscurely on an offline machine)."""

from __future__ import annotations

import os
from pathlib import Path

from proclab.errors import ProclabError


def looks_like_path(name: str) -> bool:
    """True when `name` can only be a local path (a hub id is `name` or `org/name`)."""
    return (
        name.startswith((".", "~", "/", "\\"))
        or os.path.isabs(name)
        or name.count("/") > 1
        or "\\" in name
    )


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def resolve_model(name: str | Path) -> str:
    """A loadable model reference: an existing local directory, or a hub id. A missing local
    path is a ProclabError; a hub id is passed on (the loader then honours HF_HUB_OFFLINE)."""
    text = str(name)
    path = Path(text).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ProclabError(
                f"{text} is a directory but holds no model (no config.json)",
                fix="point at a folder written by save_pretrained (e.g. `proclab models tiny`)",
            )
        return str(path)
    if path.exists() or looks_like_path(text):
        raise ProclabError(
            f"model not found: {text}",
            fix="pass an existing model directory or a hub id; build a local test model with "
            "`proclab models tiny --out DIR`",
        )
    return text


def resolve_adapter(name: str | Path) -> str:
    """A loadable adapter reference: an existing folder with adapter_config.json, or a hub id."""
    text = str(name)
    path = Path(text).expanduser()
    if path.is_dir():
        if not (path / "adapter_config.json").is_file():
            raise ProclabError(
                f"{text} holds no PEFT adapter (no adapter_config.json)",
                fix="point at a folder written by PeftModel.save_pretrained (`proclab train ...`)",
            )
        return str(path)
    if path.exists() or looks_like_path(text):
        raise ProclabError(
            f"adapter not found: {text}",
            fix="pass the output folder of a training run, or drop the adapter option",
        )
    return text


def load_failure(kind: str, name: str, err: Exception) -> ProclabError:
    """Turn a loader's OSError/ValueError for `name` into a fixable ProclabError."""
    fix = (
        "check the name; the hub is offline (HF_HUB_OFFLINE) so only cached or local models load"
        if hub_offline()
        else "check the name, or download the model first and pass its local folder"
    )
    first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return ProclabError(f"{kind} not found or not loadable: {name} ({first_line})", fix=fix)
