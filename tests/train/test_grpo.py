"""Endpoint-reward GRPO on the tiny model: the default reward is the shared verdict grader, and
every LoRA weight moves under a reward that varies within a group."""

from __future__ import annotations

import pytest
import torch

from proclab.prompts import verdict_reward
from proclab.train.config import parse_config
from proclab.train.grpo import GRPORecipe

pytestmark = pytest.mark.slow


def grpo_config(tiny_model, data_dir, out, **optim):
    return parse_config({
        "method": "grpo", "model": str(tiny_model), "output_dir": str(out), "seed": 0,
        "data": {"records": str(data_dir), "limit": 4},
        "lora": {"r": 8, "alpha": 16, "dropout": 0.0},
        "grpo": {"num_generations": 4, "max_completion_length": 16},
        "optim": {"max_steps": 2, "batch_size": 4, "learning_rate": 1e-2, **optim},
        "logging": {"logging_steps": 1, "save_steps": 2, "report_to": ["none"]},
    })


def vowel_share(completions, **_):
    """A reward that differs between the sampled completions of one prompt."""
    texts = [c[-1]["content"] if isinstance(c, list) else c for c in completions]
    return [sum(ch in "aeiou" for ch in t) / max(len(t), 1) for t in texts]


def test_default_reward_is_the_shared_verdict_grader(tiny_model, data_dir, tmp_path):
    recipe = GRPORecipe(grpo_config(tiny_model, data_dir, tmp_path / "g"))
    recipe.setup()
    assert recipe.trainer.reward_funcs == [verdict_reward]
    assert recipe.trainer.reward_func_names == ["verdict_reward"]
    first = recipe.trainer.train_dataset[0]
    assert first["label"] in ("COMPLIANT", "NON-COMPLIANT")
    reply = [{"role": "assistant", "content": f"Because ...\nFinal answer: {first['label']}"}]
    assert recipe.trainer.reward_funcs[0](completions=[reply], label=[first["label"]]) == [1.0]


def test_grpo_changes_every_lora_weight(tiny_model, data_dir, tmp_path):
    recipe = GRPORecipe(grpo_config(tiny_model, data_dir, tmp_path / "g"),
                        reward_funcs=[vowel_share])
    recipe.setup()
    before = {n: p.detach().clone() for n, p in recipe.trainer.model.named_parameters()
              if p.requires_grad}
    assert before and all("lora_" in n for n in before)
    outcome = recipe.save(recipe.train())
    assert outcome.global_step == 2
    logs = [h for h in outcome.trainer.state.log_history if "reward_std" in h]
    assert logs and all(h["reward_std"] > 0 for h in logs)
    after = dict(recipe.trainer.model.named_parameters())
    unchanged = [n for n, p in before.items() if torch.equal(p, after[n])]
    assert unchanged == []
    assert (outcome.output_dir / "adapter_model.safetensors").is_file()
