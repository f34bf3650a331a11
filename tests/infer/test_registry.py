from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from proclab.errors import ConfigError, ProclabError
from proclab.infer.base import Backend
from proclab.infer.hf import HFBackend
from proclab.infer.registry import BACKENDS, load_backend
from proclab.infer.vllm_backend import MISSING_EXTRA

HAS_VLLM = importlib.util.find_spec("vllm") is not None


def test_registry_names() -> None:
    assert sorted(BACKENDS) == ["hf", "openai", "vllm"]


def test_unknown_backend_suggests_the_closest() -> None:
    with pytest.raises(ConfigError, match=r"unknown inference backend 'vlm' \(did you mean 'vllm'\?\)"):
        load_backend("vlm", model="x")


def test_loads_hf_backend(tiny_model_dir: Path) -> None:
    backend = load_backend("hf", model=tiny_model_dir, device="cpu", dtype="float32")
    assert isinstance(backend, HFBackend) and isinstance(backend, Backend)


def test_unknown_option_names_accepted_ones(tiny_model_dir: Path) -> None:
    with pytest.raises(ConfigError, match="unknown option.*gpu_layers") as info:
        load_backend("hf", model=tiny_model_dir, gpu_layers=3)
    assert "device, dtype" in info.value.render()


def test_unknown_dtype(tiny_model_dir: Path) -> None:
    with pytest.raises(ConfigError, match="unknown dtype 'fp8'"):
        load_backend("hf", model=tiny_model_dir, dtype="fp8")


def test_unknown_model_path_through_registry(tmp_path: Path) -> None:
    with pytest.raises(ProclabError, match="model not found") as info:
        load_backend("hf", model=str(tmp_path / "missing-model"))
    assert info.value.exit_code == 2


@pytest.mark.skipif(HAS_VLLM, reason="vllm is installed")
def test_vllm_missing_extra_message(tiny_model_dir: Path) -> None:
    with pytest.raises(ProclabError) as info:
        load_backend("vllm", model=tiny_model_dir, adapter="some/adapter")
    assert info.value.what == MISSING_EXTRA
    assert MISSING_EXTRA == "the vLLM backend needs the 'vllm' extra: pip install 'proclab[vllm]'"
