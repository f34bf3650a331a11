"""The vLLM backend (optional `vllm` extra): offline batched generation, LoRA-aware.

Prompts are rendered with the model's chat template and passed as token ids, so vLLM does not
add a second BOS in front of a template that already holds one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from proclab.errors import ProclabError
from proclab.infer.base import Generation, GenerationConfig, Message
from proclab.infer.locate import resolve_adapter, resolve_model
from proclab.prompts import render_chat

MISSING_EXTRA = "the vLLM backend needs the 'vllm' extra: pip install 'proclab[vllm]'"


def require_vllm() -> ModuleType:
    """The `vllm` module, or a ProclabError saying how to install it."""
    try:
        import vllm
    except ImportError as err:
        raise ProclabError(
            MISSING_EXTRA,
            fix="install it (Linux + CUDA GPU), or use the 'hf' backend, which needs no extra",
        ) from err
    return vllm


def adapter_rank(adapter: str) -> int | None:
    """LoRA rank `r` from a local adapter_config.json (vLLM must be told the largest rank)."""
    config = Path(adapter) / "adapter_config.json"
    if not config.is_file():
        return None
    rank = json.loads(config.read_text(encoding="utf-8")).get("r")
    return int(rank) if isinstance(rank, int) else None


class VLLMBackend:
    """Generation with `vllm.LLM`; an adapter is applied per request through `LoRARequest`."""

    name = "vllm"

    def __init__(
        self,
        model_path: str | Path,
        adapter: str | Path | None = None,
        *,
        dtype: str = "auto",
        gpu_memory_utilization: float = 0.9,
        max_model_len: int | None = None,
        tensor_parallel_size: int = 1,
        max_lora_rank: int | None = None,
    ):
        vllm = require_vllm()
        self.model_name = str(model_path)
        where = resolve_model(model_path)
        self.lora: Any = None
        engine: dict[str, Any] = {}
        if adapter is not None:
            from vllm.lora.request import LoRARequest

            adapter_path = resolve_adapter(adapter)
            rank = max_lora_rank or adapter_rank(adapter_path) or 64
            engine.update(enable_lora=True, max_lora_rank=rank, max_loras=1)
            self.lora = LoRARequest("proclab-adapter", 1, adapter_path)
        self.llm = vllm.LLM(
            model=where,
            dtype=dtype,
            gpu_memory_utilization=gpu_memory_utilization,
            max_model_len=max_model_len,
            tensor_parallel_size=tensor_parallel_size,
            **engine,
        )
        self.tokenizer = self.llm.get_tokenizer()

    def generate(
        self, prompts: Sequence[list[Message]], config: GenerationConfig
    ) -> list[Generation]:
        """Completions in input order (vLLM schedules the batch itself; `batch_size` unused)."""
        vllm = require_vllm()
        token_prompts = [
            {"prompt_token_ids": self.tokenizer(
                render_chat(self.tokenizer, m), add_special_tokens=False
            )["input_ids"]}
            for m in prompts
        ]
        params = vllm.SamplingParams(
            max_tokens=config.max_new_tokens,
            temperature=config.temperature,
            top_p=config.top_p if config.temperature > 0 else 1.0,
            seed=config.seed,
        )
        outputs = self.llm.generate(
            token_prompts, params, lora_request=self.lora, use_tqdm=False
        )
        return [_to_generation(out) for out in outputs]


def _to_generation(out: Any) -> Generation:
    choice = out.outputs[0]
    reason = choice.finish_reason if choice.finish_reason in ("stop", "length") else "error"
    return Generation(
        text=choice.text.strip(),
        prompt_tokens=len(out.prompt_token_ids or []),
        completion_tokens=len(choice.token_ids),
        finish_reason=reason,
        error=None if reason != "error" else f"vllm finish_reason={choice.finish_reason}",
    )
