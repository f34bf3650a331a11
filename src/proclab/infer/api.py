"""The OpenAI-compatible chat API backend: a thin adapter over `proclab.teacher.client`, which
already does async requests, the concurrency limit, rate limiting, retries with backoff
(honouring Retry-After) and the persistent response cache. One client serves both stages.

Works with hosted routers and with local servers (`vllm serve`, llama.cpp) alike; a LoRA
adapter is served by the server (e.g. `vllm serve --lora-modules name=path`) and addressed by
passing its name as the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from proclab.errors import ConfigError, ErrorList, ProclabError
from proclab.infer.base import Generation, GenerationConfig, Message
from proclab.teacher.client import ClientConfig, TeacherClient
from proclab.teacher.completion import ChatResult


def client_config(model: str, options: dict[str, Any]) -> ClientConfig:
    """A validated ClientConfig for `model`; every invalid option is named in one error."""
    try:
        return ClientConfig(model=model, **options)
    except ValidationError as err:
        errors: list[ProclabError] = [
            ConfigError(
                e["msg"],
                where=".".join(str(p) for p in e["loc"]) or "options",
                fix="see `proclab.teacher.client.ClientConfig` for the accepted options",
            )
            for e in err.errors()
        ]
        raise ErrorList(errors, what="invalid API backend options") from None


def request_params(config: GenerationConfig) -> dict[str, Any]:
    """Chat-completions parameters for a generation config (greedy = temperature 0)."""
    params: dict[str, Any] = {"max_tokens": config.max_new_tokens, "temperature": config.temperature}
    if config.temperature > 0:
        params["top_p"] = config.top_p
        params["seed"] = config.seed  # only meaningful when sampling; keeps greedy cache keys stable
    return params


def to_generation(result: ChatResult) -> Generation:
    """The backend-neutral view of one chat result (failures become finish_reason "error")."""
    if not result.ok:
        detail = f"{result.error}: {result.detail}" if result.detail else result.error
        return Generation(text="", finish_reason="error", error=detail)
    finish = "length" if result.finish_reason == "length" else "stop"
    return Generation(
        text=result.content.strip(),
        prompt_tokens=result.prompt_tokens,
        completion_tokens=result.completion_tokens,
        finish_reason=finish,
    )


class APIBackend:
    """Generation through any OpenAI-compatible `/chat/completions` endpoint.

    `options` are `ClientConfig` fields: base_url (required), api_key_env, concurrency, rpm,
    timeout_s, max_retries, cache_path, extra_body, ...
    """

    name = "openai"

    def __init__(self, model: str, adapter: str | None = None, **options: Any):
        if adapter is not None:
            raise ConfigError(
                "the API backend cannot load a LoRA adapter itself",
                fix="serve the adapter (e.g. `vllm serve BASE --enable-lora --lora-modules "
                "NAME=PATH`) and pass NAME as the model, or use the hf / vllm backend",
            )
        if "base_url" not in options:
            raise ConfigError(
                "the API backend needs a base_url",
                fix="pass base_url, e.g. http://127.0.0.1:8000/v1 or https://openrouter.ai/api/v1",
            )
        self.client = TeacherClient(client_config(model, options))

    def generate(
        self, prompts: Sequence[list[Message]], config: GenerationConfig
    ) -> list[Generation]:
        """Completions in input order; per-item failures come back with finish_reason "error".
        Synchronous (runs its own event loop); async callers use `agenerate`."""
        results = self.client.run_chat_many(
            list(prompts), progress=False, **request_params(config)
        )
        return [to_generation(r) for r in results]

    async def agenerate(
        self, prompts: Sequence[list[Message]], config: GenerationConfig
    ) -> list[Generation]:
        """`generate` for callers already inside an event loop."""
        results = await self.client.chat_many(list(prompts), progress=False, **request_params(config))
        return [to_generation(r) for r in results]

    def close(self) -> None:
        """Close the response cache (connections are closed after each `generate`)."""
        self.client.close()
