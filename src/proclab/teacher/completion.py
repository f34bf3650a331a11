"""One chat completion as proclab keeps it (`ChatResult`), parsing of the provider reply, and
the running totals of a client (`Usage`).

Reasoning is taken from a separate `reasoning_content` (DeepSeek, vLLM) or `reasoning`
(OpenRouter) field, or from inline `<think>...</think>` blocks, which are cut out of `content`.
A reply truncated by `max_tokens` is a result (finish_reason "length"), not an error: the
caller decides what to do with truncated traces.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

_OPEN, _CLOSE = "<think>", "</think>"
_STORED = ("content", "reasoning", "finish_reason", "prompt_tokens", "completion_tokens", "model")


@dataclass(frozen=True)
class ChatResult:
    """A teacher answer, or a failure (`error` set: "http_500", "timeout", "malformed_json",
    "empty_choices", "connect_error", ...). `attempts` counts HTTP requests made for it (0 when
    served from the cache); `cached` says no new request was paid for it."""

    content: str = ""
    reasoning: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False
    error: str | None = None
    attempts: int = 0
    detail: str | None = None  # server's own words for a failure (API key scrubbed)
    model: str | None = None  # the model name the provider reports having served

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_record(self) -> dict[str, Any]:
        """The JSON-able fields the cache stores (the answer, not how it was obtained)."""
        return {k: v for k, v in asdict(self).items() if k in _STORED}

    @classmethod
    def from_record(cls, record: dict[str, Any], *, cached: bool) -> ChatResult:
        return cls(**{k: record.get(k) for k in _STORED if k in record}, cached=cached)


def split_think(text: str) -> tuple[str, str | None]:
    """(answer, reasoning) from text with inline think blocks. Everything up to the last
    `</think>` is reasoning (the opening tag may be missing when the chat template already
    emitted it); an unclosed `<think>` means the reply ended while still thinking."""
    if _CLOSE in text:
        head, _, tail = text.rpartition(_CLOSE)
        reasoning = head.replace(_OPEN, "").replace(_CLOSE, "\n").strip()
        return tail.strip(), reasoning or None
    stripped = text.lstrip()
    if stripped.startswith(_OPEN):
        return "", stripped[len(_OPEN):].strip() or None
    return text, None


def estimate_tokens(text: str) -> int:
    """The rough token count used where a provider reports none: chars / 4, rounded up."""
    return (len(text) + 3) // 4


def parse_completion(raw: bytes, *, prompt_estimate: int = 0) -> ChatResult:
    """A ChatResult from a 2xx response body; `error` is set for malformed JSON, a provider
    error object, or no choices. Token counts fall back to estimates (chars / 4) when the
    provider reports no usage."""
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return ChatResult(error="malformed_json", detail=raw[:200].decode("utf-8", "replace"))
    if not isinstance(data, dict):
        return ChatResult(error="malformed_json", detail="top level is not an object")
    if data.get("error"):  # some routers answer 200 with an error object
        error = data["error"]
        message = error.get("message") if isinstance(error, dict) else error
        return ChatResult(error="provider_error", detail=str(message)[:300])
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices:
        return ChatResult(error="empty_choices")
    choice = choices[0]
    message = choice.get("message") if isinstance(choice, dict) else None
    if not isinstance(message, dict):
        return ChatResult(error="malformed_json", detail="choice without a message object")
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    try:
        return _result(choice, message, usage, data.get("model"), prompt_estimate)
    except (TypeError, ValueError) as err:  # e.g. a token count that is not a number
        return ChatResult(error="malformed_json", detail=f"unreadable completion: {err}"[:300])


def _result(choice: dict, message: dict, usage: dict, model: Any, prompt_estimate: int
            ) -> ChatResult:
    content, inline = split_think(str(message.get("content") or ""))
    separate = message.get("reasoning_content") or message.get("reasoning")
    parts = [p for p in (str(separate).strip() if separate else None, inline) if p]
    reasoning = "\n\n".join(parts) or None
    return ChatResult(
        content=content,
        reasoning=reasoning,
        finish_reason=choice.get("finish_reason"),
        prompt_tokens=int(usage.get("prompt_tokens") or prompt_estimate),
        completion_tokens=int(usage.get("completion_tokens")
                              or estimate_tokens(content + (reasoning or ""))),
        model=None if model is None else str(model),
    )


@dataclass
class Usage:
    """Running totals of one client: items, HTTP requests, tokens, cost and failures."""

    items: int = 0
    ok: int = 0
    cache_hits: int = 0
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    failures: Counter[str] = field(default_factory=Counter)  # final reason per failed item
    retried: Counter[str] = field(default_factory=Counter)  # attempt errors that were retried

    def to_dict(self) -> dict[str, Any]:
        return {"items": self.items, "ok": self.ok, "cache_hits": self.cache_hits,
                "requests": self.requests, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens, "cost_usd": round(self.cost_usd, 6),
                "failures": dict(self.failures), "retried": dict(self.retried)}

    def summary(self) -> str:
        failed = ", ".join(f"{k}={v}" for k, v in sorted(self.failures.items())) or "none"
        return (f"{self.ok}/{self.items} ok ({self.cache_hits} from cache), "
                f"{self.requests} requests, {self.prompt_tokens} tokens in / "
                f"{self.completion_tokens} out, ${self.cost_usd:.4f}; failed: {failed}")
