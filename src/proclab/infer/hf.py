"""The Hugging Face backend: any causal LM (+ optional PEFT adapter), batched generation.

Prompts are rendered with the model's own chat template, sorted longest first so each batch
pads little, left-padded (decoder-only models continue from the right edge), and decoded back
in the caller's order. Greedy unless `temperature > 0`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from proclab.errors import ConfigError, ProclabError
from proclab.infer.base import Generation, GenerationConfig, Message
from proclab.infer.locate import load_failure, resolve_adapter, resolve_model
from proclab.prompts import render_chat

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def pick_dtype(device: str, dtype: str | torch.dtype | None) -> torch.dtype:
    """bf16 on CUDA, fp32 elsewhere, unless `dtype` ("float32", "bfloat16", ...) says otherwise."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype is None:
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    if dtype not in _DTYPES:
        raise ConfigError(f"unknown dtype {dtype!r}", fix=f"use one of: {', '.join(_DTYPES)}")
    return _DTYPES[dtype]


def load_adapter(base: Any, adapter: str, *, base_name: str) -> Any:
    """Wrap `base` in the PEFT adapter at `adapter`; an adapter trained for another model is a
    ProclabError naming both (shape mismatches raise in PEFT, layer/module mismatches only warn,
    so the adapter's tensor names are compared with what the model expects)."""
    from peft import PeftModel
    from peft.utils import get_peft_model_state_dict

    where = resolve_adapter(adapter)
    fix = (
        "use the base model the adapter was trained on "
        "(base_model_name_or_path in its adapter_config.json)"
    )
    try:
        model = PeftModel.from_pretrained(base, where)
    except (RuntimeError, ValueError, KeyError) as err:
        detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ProclabError(
            f"adapter {adapter} does not fit base model {base_name}: {detail}", fix=fix
        ) from err
    except OSError as err:
        raise load_failure("adapter", adapter, err) from err
    stored = _stored_adapter_keys(Path(where))
    if stored is not None:
        # save_embedding_layers=False: "auto" would fetch the adapter's recorded base config
        # (from the hub when it is a hub id); saved embedding tensors are allowed as extras
        # because PEFT has already checked their shapes.
        expected = set(get_peft_model_state_dict(model, save_embedding_layers=False))
        extra = sorted(k for k in stored - expected if not _is_embedding_key(k))
        missing = sorted(expected - stored)
        if extra or missing:
            sample = (extra or missing)[0]
            raise ProclabError(
                f"adapter {adapter} does not fit base model {base_name}: "
                f"{len(extra)} adapter tensors have no place in the model and {len(missing)} "
                f"expected tensors are absent (e.g. {sample})",
                fix=fix,
            )
    return model


def _is_embedding_key(key: str) -> bool:
    from peft.utils.constants import EMBEDDING_LAYER_NAMES

    return any(f".{name}." in f".{key}" for name in EMBEDDING_LAYER_NAMES)


def _stored_adapter_keys(folder: Path) -> set[str] | None:
    """Tensor names in a local adapter_model.safetensors (header only), None when not local."""
    file = folder / "adapter_model.safetensors"
    if not file.is_file():
        return None
    from safetensors import safe_open

    with safe_open(str(file), framework="pt") as handle:
        return set(handle.keys())


def prefill_rows(model: Any, batch: list[list[int]], *, max_cache_len: int) -> Any | None:
    """A static cache holding every prompt but its last token, left-padded to one width, each
    prompt run alone; `generate` then starts from the last prompt tokens.

    Alone, a prompt takes the unmasked causal attention kernel: ~3x less work on CPU than a
    padded batch, and the same numbers as a one-prompt run. None (so `generate` prefills the
    padded batch itself) for one-token prompts and for caches that are not plain full-attention
    layers (sliding windows, linear attention), whose layout left padding would break.
    """
    from transformers.cache_utils import DynamicLayer, StaticCache, StaticLayer

    if min(len(ids) for ids in batch) < 2:
        return None
    cache = StaticCache(config=model.config, max_cache_len=max_cache_len)
    if not all(type(layer) is StaticLayer for layer in cache.layers):
        return None
    width = max(len(ids) for ids in batch) - 1
    keys: list[torch.Tensor] = []
    values: list[torch.Tensor] = []
    for row, ids in enumerate(batch):
        prefix = torch.tensor([ids[:-1]], device=model.device)
        layers = model(input_ids=prefix, use_cache=True, logits_to_keep=1).cache.layers
        if not all(type(layer) is DynamicLayer for layer in layers):
            return None
        if not keys:
            keys = [_padded_like(layer.keys, len(batch), width) for layer in layers]
            values = [_padded_like(layer.values, len(batch), width) for layer in layers]
        start = width - prefix.shape[1]
        for k, layer in enumerate(layers):
            keys[k][row, :, start:] = layer.keys[0]
            values[k][row, :, start:] = layer.values[0]
    for k in range(len(keys)):
        cache.update(keys[k], values[k], k)
    return cache


def _padded_like(states: torch.Tensor, rows: int, width: int) -> torch.Tensor:
    """Zeros shaped [rows, heads, width, head_dim] like `states` (padding is masked out)."""
    return states.new_zeros(rows, states.shape[1], width, states.shape[3])


class HFBackend:
    """Generation with `transformers` on one device; see the module docstring."""

    name = "hf"

    def __init__(
        self,
        model_path: str | Path,
        adapter: str | Path | None = None,
        *,
        device: str | None = None,
        dtype: str | torch.dtype | None = None,
    ):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.model_name = str(model_path)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.dtype = pick_dtype(self.device, dtype)
        where = resolve_model(model_path)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(where)
            model = AutoModelForCausalLM.from_pretrained(
                where, dtype=self.dtype, device_map=self.device
            )
        except (OSError, ValueError) as err:
            raise load_failure("model", self.model_name, err) from err
        if adapter is not None:
            model = load_adapter(model, str(adapter), base_name=self.model_name)
        self.model = model.to(self.device).eval()
        self.eos_ids = self._eos_ids()
        self.pad_id = self._pad_id()

    def _eos_ids(self) -> list[int]:
        ids = self.model.generation_config.eos_token_id
        if ids is None:
            ids = self.tokenizer.eos_token_id
        if ids is None:
            raise ProclabError(
                f"{self.model_name} defines no end-of-sequence token",
                fix="set eos_token_id in the model's generation_config.json",
            )
        return [ids] if isinstance(ids, int) else list(ids)

    def _pad_id(self) -> int:
        for candidate in (self.tokenizer.pad_token_id, self.model.generation_config.pad_token_id):
            if candidate is not None:
                return int(candidate)
        return self.eos_ids[0]  # padded positions are masked out, so any id will do

    def encode(self, messages: list[Message]) -> list[int]:
        """Token ids of the chat-rendered prompt (the template already holds any BOS)."""
        text = render_chat(self.tokenizer, messages)
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    @torch.inference_mode()
    def generate(
        self, prompts: Sequence[list[Message]], config: GenerationConfig
    ) -> list[Generation]:
        """Completions for `prompts`, in the same order; batches of `config.batch_size`."""
        if config.batch_size < 1 or config.max_new_tokens < 1:
            raise ConfigError(
                "batch_size and max_new_tokens must be at least 1",
                fix="fix the generation settings",
            )
        encoded = [self.encode(messages) for messages in prompts]
        # Longest first: similar lengths share a batch (less padding) and an out-of-memory
        # error, if any, comes from the first batch instead of after an hour.
        order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))
        done: dict[int, Generation] = {}
        if config.temperature > 0:
            torch.manual_seed(config.seed)
        for start in range(0, len(order), config.batch_size):
            chunk = order[start : start + config.batch_size]
            batch = self._generate_batch([encoded[i] for i in chunk], config)
            done.update(zip(chunk, batch, strict=True))
        return [done[i] for i in range(len(encoded))]

    def _generate_batch(self, batch: list[list[int]], config: GenerationConfig) -> list[Generation]:
        width = max(len(ids) for ids in batch)
        input_ids = torch.tensor([[self.pad_id] * (width - len(ids)) + ids for ids in batch])
        mask = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in batch])
        sampling: dict[str, Any] = (
            {"do_sample": True, "temperature": config.temperature, "top_p": config.top_p}
            if config.temperature > 0
            else {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
        )
        cache = prefill_rows(self.model, batch, max_cache_len=width + config.max_new_tokens)
        # A preallocated (static) cache either way: the default one concatenates the whole
        # batch's keys and values at every step. No auto-compile: every batch has its own
        # width, so it would recompile per batch.
        caching: dict[str, Any] = (
            {"cache_implementation": "static"} if cache is None else {"cache": cache}
        )
        out = self.model.generate(
            input_ids=input_ids.to(self.device),
            attention_mask=mask.to(self.device),
            max_new_tokens=config.max_new_tokens,
            eos_token_id=self.eos_ids,
            pad_token_id=self.pad_id,
            disable_compile=True,
            **caching,
            **sampling,
        )
        return [
            self._finish(row[width:].tolist(), len(ids), config)
            for row, ids in zip(out.cpu(), batch, strict=True)
        ]

    def _finish(self, new: list[int], prompt_len: int, config: GenerationConfig) -> Generation:
        # Rows that finished early are padded to the batch's length: cut at the first eos,
        # which is counted as generated but never decoded (it need not be a special token).
        stop = next((k for k, tok in enumerate(new) if tok in self.eos_ids), None)
        answer = new if stop is None else new[:stop]
        finish = "stop" if stop is not None or len(new) < config.max_new_tokens else "length"
        return Generation(
            text=self.tokenizer.decode(answer, skip_special_tokens=True).strip(),
            prompt_tokens=prompt_len,
            completion_tokens=len(new) if stop is None else stop + 1,
            finish_reason=finish,
        )
