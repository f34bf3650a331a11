"""Registries are plain dicts; this module gives them "did you mean ...?" lookups."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import TypeVar

from proclab.errors import ConfigError

T = TypeVar("T")


def suggest(name: str, choices: Iterable[str]) -> str:
    """A ' (did you mean X?)' suffix for the closest choice, or '' when nothing is close."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def lookup(registry: Mapping[str, T], name: str, *, kind: str) -> T:
    """Return `registry[name]` or raise a ConfigError listing the known names."""
    try:
        return registry[name]
    except KeyError:
        known = ", ".join(sorted(registry))
        raise ConfigError(
            f"unknown {kind} {name!r}{suggest(name, registry)}",
            fix=f"use one of: {known}",
        ) from None
