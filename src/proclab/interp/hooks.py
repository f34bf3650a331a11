"""Hook points named by module path, and a context manager that always removes its hooks.

A hook point is a module path in the *base* model's namespace (`model.layers.3.self_attn.o_proj`),
so the same name works for a plain model and for one wrapped in an unmerged PEFT adapter (LoRA
wraps `o_proj`; the wrapper's input is the same tensor, the concatenated head outputs).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from proclab.errors import ProclabError

# model_type -> display name; all share `model.layers[i].self_attn.{q,k,v,o}_proj`.
SUPPORTED: dict[str, str] = {
    "qwen2": "Qwen2/Qwen2.5",
    "llama": "Llama",
    "mistral": "Mistral",
}

# fn(x) -> replacement or None (keep x); x is the module's first positional input.
TensorHook = Callable[[torch.Tensor], torch.Tensor | None]
# fn(output) -> replacement or None; attention modules output a tuple (out, weights).
OutputHook = Callable[[Any], Any]


def unwrap(model: nn.Module) -> nn.Module:
    """The causal LM under a PEFT wrapper (LoRA layers stay injected, so adapters stay active)."""
    get_base = getattr(model, "get_base_model", None)
    return get_base() if callable(get_base) else model


def o_proj_point(layer: int) -> str:
    """Hook point whose input is the concatenated head outputs `[batch, seq, heads*head_dim]`."""
    return f"model.layers.{layer}.self_attn.o_proj"


def attn_point(layer: int) -> str:
    """Hook point of the attention module; with eager attention its output[1] is the pattern."""
    return f"model.layers.{layer}.self_attn"


def residual_point(layer: int) -> str:
    """Hook point whose input is the residual stream entering layer `layer`."""
    return f"model.layers.{layer}.input_layernorm"


@dataclass(frozen=True)
class HeadLayout:
    """Sizes of the attention heads of a supported model."""

    model_type: str
    n_layers: int
    n_heads: int
    n_kv_heads: int
    head_dim: int

    @property
    def n_sites(self) -> int:
        return self.n_layers * self.n_heads


def head_layout(model: nn.Module) -> HeadLayout:
    """The head layout, or a ProclabError naming the supported architectures."""
    config = unwrap(model).config
    check_supported(config)
    n_heads = int(config.num_attention_heads)
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // n_heads
    layout = HeadLayout(
        model_type=config.model_type,
        n_layers=int(config.num_hidden_layers),
        n_heads=n_heads,
        n_kv_heads=int(getattr(config, "num_key_value_heads", None) or n_heads),
        head_dim=int(head_dim),
    )
    for layer in range(layout.n_layers):
        module = resolve(model, o_proj_point(layer))
        width = getattr(module, "in_features", None)
        if width is not None and width != n_heads * layout.head_dim:
            raise ProclabError(
                f"{o_proj_point(layer)} takes {width} features, expected heads x head_dim = "
                f"{n_heads} x {layout.head_dim}",
                fix="use an unmodified Qwen2/Qwen2.5, Llama or Mistral checkpoint",
            )
    return layout


def check_supported(config: Any) -> None:
    """Raise unless the config's architecture has the expected attention modules."""
    model_type = getattr(config, "model_type", None)
    if model_type not in SUPPORTED:
        names = ", ".join(SUPPORTED.values())
        raise ProclabError(
            f"architecture {model_type!r} is not supported for head patching",
            fix=f"use one of {names} (attention at model.layers[i].self_attn with o_proj)",
        )


def resolve(model: nn.Module, point: str) -> nn.Module:
    """The module at hook point `point`, or a ProclabError saying what the model lacks."""
    try:
        return unwrap(model).get_submodule(point)
    except AttributeError:
        model_type = getattr(getattr(unwrap(model), "config", None), "model_type", "?")
        raise ProclabError(
            f"model ({model_type}) has no module {point}",
            fix=f"use one of {', '.join(SUPPORTED.values())}",
        ) from None


@contextmanager
def hooks(
    model: nn.Module,
    *,
    pre: Mapping[str, TensorHook] | None = None,
    post: Mapping[str, OutputHook] | None = None,
) -> Iterator[None]:
    """Attach `pre` (on a module's first input) and `post` (on its output) hooks by hook point for the duration of the block; they are removed even on error."""
    handles: list[Any] = []
    try:
        for point, fn in (pre or {}).items():
            handles.append(resolve(model, point).register_forward_pre_hook(_pre_hook(fn)))
        for point, fn in (post or {}).items():
            handles.append(resolve(model, point).register_forward_hook(_post_hook(fn)))
        yield
    finally:
        for handle in handles:
            handle.remove()


def _pre_hook(fn: TensorHook) -> Callable[..., Any]:
    def hook(_module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        new = fn(args[0])
        return None if new is None else (new, *args[1:])

    return hook


def _post_hook(fn: OutputHook) -> Callable[..., Any]:
    def hook(_module: nn.Module, _args: tuple[Any, ...], output: Any) -> Any:
        return fn(output)

    return hook


def head_name(layer: int, head: int) -> str:
    """`L{layer}.H{head}`, 0-indexed, as DESIGN.md spells it."""
    return f"L{layer}.H{head}"


def parse_head(name: str) -> tuple[int, int]:
    """Inverse of `head_name`."""
    layer, head = name.split(".")
    if not (layer.startswith("L") and head.startswith("H")):
        raise ProclabError(f"not a head name: {name!r}", fix="write heads as L{layer}.H{head}")
    return int(layer[1:]), int(head[1:])
