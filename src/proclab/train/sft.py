"""Scaffolded SFT (the engaged endpoint), or answer-only SFT (`sft.target: answer`, the
contrast arm): config -> setup -> train -> save.

`run_sft(config)` is what the CLI and tests call. The saved folder is a plain PEFT adapter
(`adapter_config.json` + `adapter_model.safetensors`; `finetune: lora`) or a plain model
(`config.json` + `model.safetensors`; `finetune: full`), with the base tokenizer and its chat
template beside it, plus `proclab-train.json` (config, data stats, versions, final metrics).
"""

from __future__ import annotations

from typing import Any

from proclab.train import runtime
from proclab.train.config import SFTRunConfig
from proclab.train.data import (
    DataStats,
    load_records,
    load_sft_rows,
    oracle_eval_rows,
    sft_examples,
)


class SFTRecipe:
    """SFT (LoRA or full) with assistant-only loss and the optional `[SIG=...]` weight."""

    def __init__(self, config: SFTRunConfig, *, callbacks: list[Any] | None = None):
        self.config = config
        self.callbacks = callbacks or []
        self.model: Any = None
        self.tokenizer: Any = None
        self.trainer: Any = None
        self.resume_from: str | None = None
        self.stats: dict[str, DataStats] = {}

    def setup(self, resume: str | None = None) -> None:
        """Check the output folder, load model and data, build the trainer."""
        cfg = self.config
        run = runtime.setup_run(cfg, resume)
        self.resume_from, self.tokenizer, self.model = run.resume_from, run.tokenizer, run.model
        train, evaluation = self._datasets()
        self.trainer = build_trainer(cfg, self.model, self.tokenizer, run.peft_config, train,
                                      evaluation, self.callbacks)
        runtime.write_manifest(cfg, status="running", base_model=run.base,
                               data={k: s.as_dict() for k, s in self.stats.items()})

    def _datasets(self) -> tuple[Any, Any]:
        from datasets import Dataset

        cfg, data = self.config, self.config.data
        records = (load_records(data.records, data.train_split)
                   if data.records and data.orders() != ["PSQ"] else None)
        rows = load_sft_rows(data.sft_file, limit=data.limit)  # type: ignore[arg-type]
        train, self.stats["train"] = sft_examples(
            rows, self.tokenizer, orders=data.orders(), order_mode=data.order_mode,
            records=records, max_length=data.max_length, seed=cfg.seed, target=cfg.sft.target)
        eval_rows = None
        if data.eval_sft_file:
            eval_rows = load_sft_rows(data.eval_sft_file, limit=data.eval_limit)
        elif data.eval_split:
            eval_rows = oracle_eval_rows(data.records, data.eval_split,  # type: ignore[arg-type]
                                         limit=data.eval_limit, seed=cfg.seed, out=cfg.output_dir)
        evaluation = None
        if eval_rows:
            # Eval keeps the reference order: its loss must be comparable across runs. It has
            # the training target: an answer-only run is scored on answer lines.
            examples, self.stats["eval"] = sft_examples(
                eval_rows, self.tokenizer, orders=["PSQ"], order_mode="sample", records=None,
                max_length=data.max_length, seed=cfg.seed, target=cfg.sft.target)
            evaluation = Dataset.from_list(examples)
        return Dataset.from_list(train), evaluation

    def train(self) -> dict[str, float]:
        """Train (from the checkpoint, if resuming); ends with an eval-loss measurement."""
        result = self.trainer.train(resume_from_checkpoint=self.resume_from)
        metrics = dict(result.metrics)
        if self.trainer.eval_dataset is not None:
            metrics.update(_final_eval(self.trainer))
        return metrics

    def save(self, metrics: dict[str, float]) -> runtime.TrainOutcome:
        return runtime.save_run(self.trainer, self.tokenizer, self.config, metrics, self.stats)


def build_trainer(cfg: SFTRunConfig, model: Any, tokenizer: Any, peft_config: Any, train: Any,
                  evaluation: Any, callbacks: list[Any]) -> Any:
    """The `SignalSFTTrainer` for prepared datasets (columns input_ids, labels, sig_mask)."""
    from trl import SFTConfig

    from proclab.train.trainer import SignalCollator, SignalSFTTrainer

    # Examples arrive tokenized, labelled and length-checked (data.py), so TRL skips its own
    # preparation, except for packing, which TRL does (and which drops sig_mask: config.py
    # allows it only with signal_beta 0).
    packing = cfg.sft.packing
    args = SFTConfig(
        **runtime.common_args(cfg, has_eval=evaluation is not None),
        max_length=cfg.data.max_length if packing else None,
        packing=packing,
        padding_free=False,  # our collator flattens instead (TRL refuses custom ones here)
        dataset_kwargs=None if packing else {"skip_prepare_dataset": True},
        train_sampling_strategy="group_by_length" if cfg.sft.group_by_length else "random",
    )
    collator = None if packing else SignalCollator(
        pad_token_id=tokenizer.pad_token_id, padding_free=cfg.sft.padding_free,
        keep_attention_mask=cfg.sft.keep_attention_mask)
    return SignalSFTTrainer(
        model=model, args=args, data_collator=collator, train_dataset=train,
        eval_dataset=evaluation, processing_class=tokenizer, peft_config=peft_config,
        callbacks=callbacks, signal_beta=cfg.sft.signal_beta,
    )


def _final_eval(trainer: Any) -> dict[str, float]:
    """The eval metrics at the last step: logged already when eval_steps divides it."""
    step = trainer.state.global_step
    for entry in reversed(trainer.state.log_history):
        if entry.get("step") == step and "eval_loss" in entry:
            return {k: v for k, v in entry.items() if k.startswith("eval_")}
    return trainer.evaluate()


def run_sft(config: SFTRunConfig, *, resume: str | None = None,
            callbacks: list[Any] | None = None) -> runtime.TrainOutcome:
    """Train on distilled traces (a LoRA adapter, or the whole model for `finetune: full`);
    `resume`: None, "auto" or a checkpoint path."""
    recipe = SFTRecipe(config, callbacks=callbacks)
    recipe.setup(resume)
    return recipe.save(recipe.train())
