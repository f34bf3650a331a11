"""Data-parallel training as it runs on a cluster, on CPU: `accelerate launch --multi_gpu
--num_processes 2` with ACCELERATE_USE_CPU=1 (two torchrun processes, gloo) of proclab's SFT and
GRPO recipes on the tiny model. (`accelerate launch --cpu --num_processes 2` starts one process
unless an MPI hostfile is given; see docs/training.md.) Each rank must see different
examples, the SFT loss must equal what one process computes on the same global batch, and one
adapter must be saved. `make test-multiprocess` runs just these."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from tests.train.ddp_worker import train_recording

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("ddp_worker.py")


def _launch(raw: dict, out: Path) -> list[dict]:
    """Run the recipe of `raw` on 2 CPU processes; the per-rank records of ddp_worker.py."""
    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent))
    if accelerate is None:
        pytest.skip("the accelerate launcher is not installed")
    out.mkdir(parents=True, exist_ok=True)
    config = out / "config.json"
    config.write_text(json.dumps(raw))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)]),
           "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "ACCELERATE_USE_CPU": "1"}
    cmd = [accelerate, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port",
           str(_free_port()), str(WORKER), str(config), str(out)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    return [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _sft_raw(tiny_model, data_dir, out: Path, batch_size: int) -> dict:
    return {"method": "sft", "model": str(tiny_model), "output_dir": str(out), "seed": 0,
            "data": {"sft_file": str(data_dir / "sft.jsonl")},
            "lora": {"r": 8, "alpha": 16, "dropout": 0.0},
            "optim": {"max_steps": 3, "batch_size": batch_size, "learning_rate": 1e-2},
            "sft": {"signal_beta": 0.5},
            "logging": {"logging_steps": 1, "save_steps": 3, "report_to": ["none"]}}


def _losses(history: list[dict]) -> list[float]:
    return [h["loss"] for h in history if "loss" in h]


def _adapters(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("adapter_model.safetensors")
                  if "checkpoint-" not in str(p.parent.name))


def test_two_process_sft_matches_one_process_on_the_same_global_batch(tiny_model, data_dir,
                                                                     tmp_path):
    ranks = _launch(_sft_raw(tiny_model, data_dir, tmp_path / "ddp" / "run", 1),
                    tmp_path / "ddp")
    assert [r["world_size"] for r in ranks] == [2, 2]
    # The first 3 collated batches of each rank are its 3 steps (a 4th may be prefetched).
    for rank0, rank1 in zip(ranks[0]["seen"][:3], ranks[1]["seen"][:3], strict=True):
        assert not set(rank0) & set(rank1), "both ranks trained on the same example"
    single, seen = train_recording(_sft_raw(tiny_model, data_dir, tmp_path / "one", 2))
    for step in range(3):  # one process, batch 2 = the union of the two ranks' batches of 1
        assert set(seen[step]) == set(ranks[0]["seen"][step]) | set(ranks[1]["seen"][step])
    one = _losses(single.trainer.state.log_history)
    two = _losses(ranks[0]["log_history"])
    assert len(one) == len(two) == 3
    assert two == pytest.approx(one, rel=2e-3, abs=1e-4), (one, two)
    assert _adapters(tmp_path / "ddp" / "run") == [tmp_path / "ddp" / "run" /
                                                  "adapter_model.safetensors"]
    manifest = json.loads((tmp_path / "ddp" / "run" / "proclab-train.json").read_text())
    assert manifest["status"] == "done" and manifest["global_step"] == 3


def test_two_process_grpo_splits_prompts_and_saves_one_adapter(tiny_model, data_dir, tmp_path):
    raw = {"method": "grpo", "model": str(tiny_model), "output_dir": str(tmp_path / "run"),
           "seed": 0, "data": {"records": str(data_dir), "limit": 4},
           "lora": {"r": 8, "alpha": 16, "dropout": 0.0},
           "grpo": {"num_generations": 2, "max_completion_length": 8},
           "optim": {"max_steps": 2, "batch_size": 2, "learning_rate": 1e-2},
           "logging": {"logging_steps": 1, "save_steps": 2, "report_to": ["none"]}}
    ranks = _launch(raw, tmp_path)
    assert [r["global_step"] for r in ranks] == [2, 2]
    for step0, step1 in zip(ranks[0]["seen"], ranks[1]["seen"], strict=True):
        assert not set(step0) & set(step1), "both ranks scored the same prompt"
    history = ranks[0]["log_history"]
    assert len(_losses(history)) == 2 and all("reward" in h for h in history if "loss" in h)
    assert _adapters(tmp_path / "run") == [tmp_path / "run" / "adapter_model.safetensors"]
