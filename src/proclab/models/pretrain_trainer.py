"""The training loop of `proclab models pretrain`: a transformers `Trainer` over packed blocks,
fp32, checkpoints every `save_steps`, resuming from the last checkpoint in `checkpoints/`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from proclab.models.pretrain_config import PretrainConfig


class PackedBlocks:
    """A torch-style dataset of equal-length blocks; -1 marks padding (no loss, no attention)."""

    def __init__(self, blocks: list[list[int]], pad_id: int):
        import torch

        self.ids = torch.tensor(blocks, dtype=torch.long)
        self.pad_id = pad_id

    def __len__(self) -> int:
        return self.ids.shape[0]

    def __getitem__(self, i: int) -> dict[str, Any]:
        row = self.ids[i]
        real = row >= 0
        return {"input_ids": row.where(real, self.pad_id), "labels": row.where(real, -100),
                "attention_mask": real.long()}


def last_checkpoint(folder: Path) -> str | None:
    if not folder.is_dir():
        return None
    steps = [int(p.name.split("-")[1]) for p in folder.glob("checkpoint-*")
             if p.name.split("-")[1].isdigit() and (p / "trainer_state.json").is_file()]
    return str(folder / f"checkpoint-{max(steps)}") if steps else None


def train_blocks(model: Any, tokenizer: Any, blocks: list[list[int]], config: PretrainConfig,
                 checkpoints: Path, progress: bool) -> dict[str, Any]:
    """Train `model` in place; returns the loss history, final loss, steps and tokens/s."""
    import torch
    from transformers import PrinterCallback, Trainer, TrainingArguments, default_data_collator
    from transformers.utils import logging as hf_logging

    t = config.train
    args = TrainingArguments(
        output_dir=str(checkpoints),
        per_device_train_batch_size=t.batch_size,
        gradient_accumulation_steps=t.grad_accum,
        learning_rate=t.learning_rate,
        lr_scheduler_type=t.lr_scheduler,
        warmup_steps=t.warmup_steps,
        max_steps=t.max_steps,
        num_train_epochs=t.num_epochs,
        weight_decay=t.weight_decay,
        adam_beta2=t.adam_beta2,
        max_grad_norm=t.max_grad_norm,
        seed=t.seed,
        data_seed=t.seed,
        save_strategy="steps",
        save_steps=t.save_steps,
        save_total_limit=t.save_total_limit,
        logging_steps=t.logging_steps,
        logging_first_step=True,
        report_to="none",
        disable_tqdm=not progress,
        use_cpu=not torch.cuda.is_available(),
        bf16=False,
        fp16=False,
        dataloader_num_workers=0,
    )
    dataset = PackedBlocks(blocks, tokenizer.pad_token_id)
    trainer = Trainer(model=model, args=args, train_dataset=dataset,
                      data_collator=default_data_collator)
    if not progress:  # no per-step log lines and no save bars either
        trainer.remove_callback(PrinterCallback)
        hf_logging.disable_progress_bar()
    resume = last_checkpoint(checkpoints)
    start_step = int(resume.rsplit("-", 1)[1]) if resume else 0
    started = time.perf_counter()
    trainer.train(resume_from_checkpoint=resume)
    wall = time.perf_counter() - started
    steps = trainer.state.global_step
    tokens_per_step = t.batch_size * t.grad_accum * t.seq_len
    losses = [{"step": e["step"], "loss": e["loss"]}
              for e in trainer.state.log_history if "loss" in e]
    model.eval()
    return {
        "steps": steps,
        "resumed_from_step": start_step,
        "loss_history": losses,
        "final_loss": losses[-1]["loss"] if losses else None,
        "train_wall_s": round(wall, 2),
        "tokens_per_s": round((steps - start_step) * tokens_per_step / wall, 1) if wall else None,
        "s_per_step": round(wall / (steps - start_step), 3) if steps > start_step else None,
        "parameters": sum(p.numel() for p in model.parameters()),
    }
