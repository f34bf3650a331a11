"""The backend interface: a batch of chat message lists + a generation config -> texts.

Backends are registered by name in `proclab.infer.registry.BACKENDS` (one dict, one file);
heavy imports (torch, vllm, httpx) happen inside the factories, never at import time here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

Message = dict[str, str]


@dataclass(frozen=True)
class GenerationConfig:
    """Decoding settings. Greedy by default (temperature 0), as the evaluation protocol uses."""

    max_new_tokens: int = 512
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    batch_size: int = 8


@dataclass(frozen=True)
class Generation:
    """One completion: the decoded new text and token counts (0 where a backend cannot tell)."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"  # "stop" | "length" | "error"
    error: str | None = None


@runtime_checkable
class Backend(Protocol):
    """Anything that turns chat prompts into completions."""

    name: str

    def generate(
        self, prompts: Sequence[list[Message]], config: GenerationConfig
    ) -> list[Generation]:
        """Completions for `prompts`, in the same order."""
        ...
