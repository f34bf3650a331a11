"""The backend registry: one dict, name -> factory. Factories import their backend lazily, so
naming a backend never drags in torch, httpx or vllm for the others."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from proclab.errors import ConfigError
from proclab.infer.base import Backend
from proclab.registry import lookup

Factory = Callable[..., Backend]


def _hf(model: str | Path, adapter: str | Path | None, **options: Any) -> Backend:
    from proclab.infer.hf import HFBackend

    _check_options(HFBackend, options, "hf")
    return HFBackend(model, adapter, **options)


def _openai(model: str | Path, adapter: str | Path | None, **options: Any) -> Backend:
    from proclab.infer.api import APIBackend

    return APIBackend(str(model), None if adapter is None else str(adapter), **options)


def _vllm(model: str | Path, adapter: str | Path | None, **options: Any) -> Backend:
    from proclab.infer.vllm_backend import VLLMBackend, require_vllm

    require_vllm()  # the missing extra is the first thing to report, before option typos
    _check_options(VLLMBackend, options, "vllm")
    return VLLMBackend(model, adapter, **options)


BACKENDS: dict[str, Factory] = {"hf": _hf, "openai": _openai, "vllm": _vllm}


def _check_options(cls: type, options: dict[str, Any], name: str) -> None:
    """Unknown keyword options are a ConfigError naming the accepted ones (not a TypeError)."""
    accepted = [
        p.name
        for p in inspect.signature(cls).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    ]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ConfigError(
            f"unknown option(s) for the {name} backend: {', '.join(unknown)}",
            fix=f"use some of: {', '.join(accepted)}",
        )


def load_backend(
    name: str, *, model: str | Path, adapter: str | Path | None = None, **options: Any
) -> Backend:
    """The backend `name` ("hf", "openai", "vllm") loaded for `model` (+ optional adapter);
    unknown names raise ConfigError with a 'did you mean'."""
    factory = lookup(BACKENDS, name, kind="inference backend")
    return factory(model, adapter, **options)
