"""Launched by tests/train/test_multiprocess.py under `accelerate launch --num_processes 2
--cpu`: trains a proclab recipe from a config file and writes what this rank saw.

    accelerate launch --num_processes 2 --cpu tests/train/ddp_worker.py CONFIG.json OUT_DIR

Each rank writes `OUT_DIR/rank<R>.json`: the examples (SFT: token ids of each collated example;
GRPO: the prompts its reward function scored), the world size, and on rank 0 the trainer's log
history. The recipes themselves are proclab's, unchanged; only the collator (SFT) and the
reward function (GRPO) are wrapped to record their inputs.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path


def _digest(ids) -> str:
    return hashlib.sha256(json.dumps(list(map(int, ids))).encode()).hexdigest()[:16]


def train_recording(raw: dict):
    """Train the recipe of config `raw`; (outcome, per collated batch / scored group the
    digests of its examples)."""
    from proclab.prompts import verdict_reward
    from proclab.train.config import parse_config
    from proclab.train.grpo import GRPORecipe
    from proclab.train.sft import SFTRecipe

    config = parse_config(raw)
    seen: list[list[str]] = []  # per optimizer step on this rank, the examples it used
    if config.method == "sft":
        recipe = SFTRecipe(config)
        recipe.setup()
        collate = recipe.trainer.data_collator

        def recording(examples):
            seen.append([_digest(e["input_ids"]) for e in examples])
            return collate(examples)

        recipe.trainer.data_collator = recording
    else:
        def reward(completions, prompts, **kwargs):
            seen.append([hashlib.sha256(json.dumps(p).encode()).hexdigest()[:16]
                         for p in prompts])
            return verdict_reward(completions=completions, prompts=prompts, **kwargs)

        reward.__name__ = "verdict_reward"
        recipe = GRPORecipe(config, reward_funcs=[reward])
        recipe.setup()
    return recipe.save(recipe.train()), seen


def main(config_file: str, out_dir: str) -> None:
    rank = int(os.environ.get("RANK", "0"))
    outcome, seen = train_recording(json.loads(Path(config_file).read_text()))
    state = outcome.trainer.state
    Path(out_dir, f"rank{rank}.json").write_text(json.dumps({
        "rank": rank, "world_size": outcome.trainer.accelerator.num_processes,
        "seen": seen, "global_step": state.global_step,
        "log_history": state.log_history if rank == 0 else [],
    }))


if __name__ == "__main__":
    main(*sys.argv[1:3])
