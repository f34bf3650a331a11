"""Endpoint-reward GRPO, LoRA or full (the heuristic endpoint): config -> setup -> train -> save.

Same records and prompts as evaluation (the reference prompt, no scaffold instruction); the
reward is `proclab.prompts.verdict_reward`: 1 when the verdict parsed from the completion equals
the gold label, else 0 -- the grader evaluation scores with. The KL weight is TRL's `beta`
(`grpo.kl_beta`, TRL's default when unset); with `finetune: full` and beta > 0 TRL keeps a
frozen copy of the base as the reference model (a LoRA run uses the base with the adapter off).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from proclab.prompts import verdict_reward
from proclab.train import runtime
from proclab.train.config import GRPORunConfig
from proclab.train.data import DataStats, grpo_prompts
from proclab.train.runtime import TrainOutcome

RewardFunc = Callable[..., list[float | None]]


class GRPORecipe:
    """GRPO (LoRA or full) on dataset records; `reward_funcs` defaults to the verdict reward."""

    def __init__(self, config: GRPORunConfig, *, reward_funcs: Sequence[RewardFunc] | None = None,
                 callbacks: list[Any] | None = None):
        self.config = config
        self.reward_funcs = list(reward_funcs or [verdict_reward])
        self.callbacks = callbacks or []
        self.trainer: Any = None
        self.tokenizer: Any = None
        self.resume_from: str | None = None
        self.stats: dict[str, DataStats] = {}

    def setup(self, resume: str | None = None) -> None:
        from datasets import Dataset

        cfg = self.config
        run = runtime.setup_run(cfg, resume)
        self.resume_from, self.tokenizer = run.resume_from, run.tokenizer
        rows, self.stats["train"] = grpo_prompts(
            _records(cfg), self.tokenizer, orders=cfg.data.orders(),
            order_mode=cfg.data.order_mode,
            max_prompt_tokens=cfg.data.max_length - cfg.grpo.max_completion_length,
            seed=cfg.seed)
        self.trainer = _build_trainer(cfg, run.model, self.tokenizer, run.peft_config,
                                      Dataset.from_list(rows), self.reward_funcs, self.callbacks)
        runtime.write_manifest(cfg, status="running", base_model=run.base,
                               data={k: s.as_dict() for k, s in self.stats.items()})

    def train(self) -> dict[str, float]:
        return dict(self.trainer.train(resume_from_checkpoint=self.resume_from).metrics)

    def save(self, metrics: dict[str, float]) -> TrainOutcome:
        return runtime.save_run(self.trainer, self.tokenizer, self.config, metrics, self.stats)


def _records(cfg: GRPORunConfig) -> list[Any]:
    from proclab.dataset.records import limit_sample, load_split

    records = load_split(cfg.data.records, cfg.data.train_split)  # type: ignore[arg-type]
    return limit_sample(records, cfg.data.limit) if cfg.data.limit else records


def _build_trainer(cfg: GRPORunConfig, model: Any, tokenizer: Any, peft_config: Any, train: Any,
                   reward_funcs: list[RewardFunc], callbacks: list[Any]) -> Any:
    from trl import GRPOConfig, GRPOTrainer

    g = cfg.grpo
    optional = {"beta": g.kl_beta, "loss_type": g.loss_type, "scale_rewards": g.scale_rewards,
                "generation_batch_size": g.generation_batch_size}
    args = GRPOConfig(
        **runtime.common_args(cfg, has_eval=False),
        num_generations=g.num_generations,
        max_completion_length=g.max_completion_length,
        temperature=g.temperature,
        **{k: v for k, v in optional.items() if v is not None},
    )
    return GRPOTrainer(model=model, reward_funcs=reward_funcs, args=args, train_dataset=train,
                       processing_class=tokenizer, peft_config=peft_config, callbacks=callbacks)


def run_grpo(config: GRPORunConfig, *, resume: str | None = None,
             reward_funcs: Sequence[RewardFunc] | None = None,
             callbacks: list[Any] | None = None) -> TrainOutcome:
    """Train with GRPO (a LoRA adapter, or the whole model for `finetune: full`);
    `reward_funcs` replaces the verdict reward (tests)."""
    recipe = GRPORecipe(config, reward_funcs=reward_funcs, callbacks=callbacks)
    recipe.setup(resume)
    return recipe.save(recipe.train())
