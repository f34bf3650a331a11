"""bench/gpu_train.py on its CPU path (the tiny architecture): it trains through proclab's SFT
path, measures only the steps after warm-up, and its FLOP count follows its formula."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def gpu_train():
    spec = importlib.util.spec_from_file_location("gpu_train", ROOT / "bench" / "gpu_train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_synthetic_examples_have_the_trace_shape(gpu_train):
    examples = gpu_train.synthetic_examples(5, 2048, 100, 200, 0.6, seed=1)
    assert examples == gpu_train.synthetic_examples(5, 2048, 100, 200, 0.6, seed=1)
    for ex in examples:
        n, prompt = len(ex["input_ids"]), int(len(ex["input_ids"]) * 0.6)
        assert 100 <= n <= 200
        assert ex["labels"][:prompt] == [-100] * prompt and -100 not in ex["labels"][prompt:]
        assert sum(ex["sig_mask"][:prompt]) == 0 and sum(ex["sig_mask"]) > 0


def test_model_flops_follow_the_documented_formula(gpu_train):
    model = gpu_train.build_model("tiny", "cpu", __import__("torch").float32)
    block = sum(p.numel() for name, p in model.named_parameters()
                if ".layers." in name and name.endswith("proj.weight"))
    d, layers, vocab = 64, 2, 2048
    expected = 4 * block * 100 + 4 * d * vocab * 40 + 3 * layers * d * 100**2 + 6 * 10 * 100
    assert gpu_train.model_flops(model, [(100, 40)], lora_params=10) == expected


@pytest.mark.slow
def test_cpu_run_measures_only_the_steps_after_warmup(gpu_train, tmp_path):
    result = gpu_train.main(["--arch", "tiny", "--steps", "2", "--warmup", "1", "--batch", "2",
                             "--seq-min", "64", "--seq-max", "96",
                             "--json", str(tmp_path / "r.json")])
    assert result["sequences"] == 4  # 2 measured steps x batch 2; the warm-up step left out
    assert 4 * 64 <= result["tokens"] <= 4 * 96 and result["all_tokens"] > result["tokens"]
    assert result["tokens_per_s"] > 0 and result["model_tflops_per_s"] > 0
    assert result["mfu"] is None and result["peak_memory_gib"] is None  # no GPU here
    assert (tmp_path / "r.json").is_file()
