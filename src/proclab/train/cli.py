"""`proclab train sft|grpo|merge`: a thin layer over the recipes in this package."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(
    help="Train students (LoRA or full fine-tuning): scaffolded or answer-only SFT, "
    "endpoint-reward GRPO; merge adapters.",
    no_args_is_help=True,
    add_completion=False,
)

_CONFIG = typer.Option(..., "--config", help="Training config (YAML), e.g. configs/train/*.yaml.")
_SET = typer.Option(None, "--set", help="Override a config field: section.key=value (repeatable).")
_RESUME = typer.Option(
    None, "--resume", help="Continue a run: 'auto' (latest checkpoint in output_dir) or a path."
)


@app.command("sft")
def sft_command(config: Path = _CONFIG, overrides: list[str] | None = _SET,
                resume: str | None = _RESUME) -> None:
    """SFT on distilled scaffolded traces (assistant-only loss, optional [SIG=...] weight)."""
    from proclab.train.config import load_config
    from proclab.train.sft import run_sft

    cfg = load_config(config, method="sft", overrides=overrides or [])
    _quiet()
    _report(run_sft(cfg, resume=resume), cfg)  # type: ignore[arg-type]


@app.command("grpo")
def grpo_command(config: Path = _CONFIG, overrides: list[str] | None = _SET,
                 resume: str | None = _RESUME) -> None:
    """GRPO with reward 1 when the parsed verdict equals the gold label."""
    from proclab.train.config import load_config
    from proclab.train.grpo import run_grpo

    cfg = load_config(config, method="grpo", overrides=overrides or [])
    _quiet()
    _report(run_grpo(cfg, resume=resume), cfg)  # type: ignore[arg-type]


@app.command("merge")
def merge_command(
    adapter: Path = typer.Option(..., "--adapter", help="A training run's output_dir."),
    out: Path = typer.Option(..., "--out", help="Folder for the merged model."),
    base: str | None = typer.Option(None, "--base", help="Base model (default: the run's)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Write into a non-empty folder."),
) -> None:
    """Merge a LoRA adapter into its base model and save a plain model folder."""
    from proclab.train.merge import merge_adapter

    _quiet()
    path = merge_adapter(adapter, out, base=base, overwrite=overwrite)
    typer.echo(f"merged {adapter} into its base model -> {path}")


def _quiet() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def _report(outcome, cfg) -> None:
    m = outcome.metrics
    parts = [f"trained {outcome.global_step} steps -> {outcome.output_dir}"]
    if "train_loss" in m:
        parts.append(f"train loss {m['train_loss']:.4f}")
    if "eval_loss" in m:
        parts.append(f"eval loss {m['eval_loss']:.4f}")
    dropped = outcome.data.get("train", {}).get("dropped_overlong", 0)
    if dropped:
        parts.append(f"{dropped} over-long examples dropped")
    typer.echo("; ".join(parts))
    tensorboard = "tensorboard" in cfg.logging.report_to
    logs = f"; TensorBoard logs: {outcome.output_dir}/runs" if tensorboard else ""
    if cfg.finetune == "full":
        typer.echo(f"model: {outcome.output_dir} (load with "
                   f"AutoModelForCausalLM.from_pretrained){logs}")
    else:
        typer.echo(f"adapter: {outcome.output_dir} (load with PeftModel.from_pretrained){logs}")
