"""What both recipes share: the base model and tokenizer, the LoRA config (targets checked
against the model; none for `finetune: full`), precision, the output folder guard with its run manifest, `--resume`, and
the `TrainingArguments` fields common to SFT and GRPO."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from proclab.errors import ConfigError, ProclabError
from proclab.train.config import TINY_MODEL, RunConfig

MANIFEST = "proclab-train.json"
SCHEMA_VERSION = 1
# Fields that may change between a run and its resumption: they lengthen or re-log a run
# without making its checkpoints incompatible.
RESUME_SAFE = ("overwrite", "optim.max_steps", "optim.num_epochs", "logging.")
# Keys added after runs were written: a manifest without one ran with this value.
ADDED_KEYS: dict[str, Any] = {"finetune": "lora", "sft.target": "scaffold"}


def on_gpu() -> bool:
    return torch.cuda.is_available()


def is_main_process() -> bool:
    """False on the non-zero ranks of an `accelerate launch`: they leave the folder checks and
    the manifest to rank 0."""
    return os.environ.get("RANK", "0") == "0"


def use_bf16(config: RunConfig) -> bool:
    if config.runtime.precision == "auto":
        return on_gpu() and torch.cuda.is_bf16_supported()
    return config.runtime.precision == "bf16"


def use_checkpointing(config: RunConfig) -> bool:
    flag = config.runtime.gradient_checkpointing
    return on_gpu() if flag == "auto" else bool(flag)


def resolve_base(name: str) -> str:
    """The model folder or hub id to load: "tiny" builds/reuses the local tiny chat model."""
    if name == TINY_MODEL:
        from proclab.models.tiny import tiny_model_path

        return str(tiny_model_path())
    path = Path(name).expanduser()
    if path.exists() and not (path / "config.json").is_file():
        raise ProclabError(f"{name} holds no model (no config.json)",
                           fix="point `model` at a folder written by save_pretrained, or use tiny")
    return str(path) if path.exists() else name


def load_tokenizer(base: str) -> Any:
    """The base tokenizer; one without a chat template is an error (prompts need it)."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(base)
    except (OSError, ValueError) as err:
        raise ProclabError(f"cannot load the tokenizer of {base}: {_first_line(err)}",
                           fix="check `model`; offline, only local folders and cached ids load",
                           ) from err
    if not getattr(tokenizer, "chat_template", None):
        raise ProclabError(
            f"the tokenizer of {base} has no chat template",
            where="model",
            fix="use an instruct/chat model (proclab renders prompts with the model's own "
            "template), or add a chat_template to its tokenizer_config.json",
        )
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_base_model(base: str, config: RunConfig) -> Any:
    """The causal LM in bf16 on a bf16-capable GPU, else fp32."""
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {"dtype": torch.bfloat16 if use_bf16(config) else torch.float32}
    if config.runtime.attn_implementation:
        kwargs["attn_implementation"] = config.runtime.attn_implementation
    try:
        return AutoModelForCausalLM.from_pretrained(base, **kwargs)
    except (OSError, ValueError, ImportError) as err:
        raise ProclabError(f"cannot load model {base}: {_first_line(err)}",
                           fix="check `model` and `runtime.attn_implementation`") from err


def linear_module_names(model: Any) -> list[str]:
    """Short names of the model's Linear layers that LoRA can target (the LM head excluded)."""
    head = model.get_output_embeddings()
    names = {name.rsplit(".", 1)[-1] for name, module in model.named_modules()
             if isinstance(module, torch.nn.Linear) and module is not head}
    return sorted(names)


def lora_config(config: RunConfig, model: Any) -> Any:
    """A PEFT LoraConfig; targets missing from the model are an error listing those it has.
    None for `finetune: full` (the trainers then train every weight of `model`)."""
    if config.finetune == "full":
        return None
    from peft import LoraConfig

    targets = config.lora.target_modules
    if targets != "all-linear":
        available = linear_module_names(model)
        missing = [t for t in targets if t not in available]
        if missing:
            raise ConfigError(
                f"target modules not in the model: {', '.join(missing)}",
                where="lora.target_modules",
                fix=f"choose from the model's linear layers: {', '.join(available)} "
                "(or 'all-linear')",
            )
    return LoraConfig(
        r=config.lora.r, lora_alpha=config.lora.alpha, lora_dropout=config.lora.dropout,
        target_modules=targets if targets == "all-linear" else list(targets),
        task_type="CAUSAL_LM",
    )


@dataclass(frozen=True)
class Setup:
    """What every recipe's `setup` starts from: the checkpoint to resume (if any), the resolved
    base model name, its tokenizer, the loaded base model and the LoRA config for it (None
    for full fine-tuning)."""

    resume_from: str | None
    base: str
    tokenizer: Any
    model: Any
    peft_config: Any


def setup_run(config: RunConfig, resume: str | None) -> Setup:
    """Check the output folder, then load tokenizer, base model and LoRA config (in that order,
    so a refused output folder costs no model load)."""
    resume_from = prepare_output_dir(config, resume)
    base = resolve_base(config.model)
    tokenizer = load_tokenizer(base)
    model = load_base_model(base, config)
    return Setup(resume_from, base, tokenizer, model, lora_config(config, model))


def common_args(config: RunConfig, *, has_eval: bool) -> dict[str, Any]:
    """TrainingArguments fields shared by SFTConfig and GRPOConfig."""
    log = config.logging
    eval_steps = log.eval_steps or log.save_steps
    return {
        "output_dir": str(config.output_dir),
        "seed": config.seed,
        "data_seed": config.seed,
        "learning_rate": config.optim.learning_rate,
        "max_steps": config.optim.max_steps,
        "num_train_epochs": config.optim.num_epochs,
        "per_device_train_batch_size": config.optim.batch_size,
        "per_device_eval_batch_size": config.optim.batch_size,
        "gradient_accumulation_steps": config.optim.grad_accum,
        "warmup_steps": config.optim.warmup_ratio,  # < 1: a ratio of the total steps
        "lr_scheduler_type": config.optim.lr_scheduler,
        "weight_decay": config.optim.weight_decay,
        "max_grad_norm": config.optim.max_grad_norm,
        "bf16": use_bf16(config),
        "fp16": False,
        "use_cpu": not on_gpu(),  # transformers refuses bf16 on CPU unless this is explicit
        "gradient_checkpointing": use_checkpointing(config),
        "logging_steps": log.logging_steps,
        "save_strategy": "steps",
        "save_steps": log.save_steps,
        "save_total_limit": log.save_total_limit,
        "eval_strategy": "steps" if has_eval else "no",
        "eval_steps": eval_steps if has_eval else None,
        "report_to": [r for r in log.report_to if r != "none"] or "none",
        "run_name": log.run_name or config.output_dir.name,
        "dataloader_num_workers": config.runtime.dataloader_workers,
        "disable_tqdm": True,
    }


@dataclass
class TrainOutcome:
    """What a finished run reports: where the adapter (or full model) is, its step count and
    last metrics."""

    output_dir: Path
    global_step: int
    metrics: dict[str, float] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    trainer: Any = None


def save_run(trainer: Any, tokenizer: Any, config: RunConfig, metrics: dict[str, Any],
             stats: dict[str, Any]) -> TrainOutcome:
    """The final adapter (LoRA: loadable with plain `PeftModel.from_pretrained`) or the whole
    model (full: `AutoModelForCausalLM.from_pretrained(output_dir)`), the tokenizer with its
    chat template beside it, and the manifest marked done."""
    out = config.output_dir
    # Every rank: FSDP / ZeRO-3 gather the weights here. Trainer.save_model writes the PEFT
    # adapter of a PeftModel, else the model's own save_pretrained (config + safetensors).
    trainer.save_model(str(out))
    step = trainer.state.global_step
    data = {k: s.as_dict() for k, s in stats.items()}
    numbers = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))}
    if is_main_process():
        tokenizer.save_pretrained(str(out))
        write_manifest(config, status="done", global_step=step, metrics=numbers, data=data)
    return TrainOutcome(out, step, numbers, data, trainer)


# -- output folder, manifest and resume --------------------------------------------------------


def prepare_output_dir(config: RunConfig, resume: str | None) -> str | None:
    """Check `output_dir` against `resume` and return the checkpoint to resume from (or None).

    A fresh run needs an empty or absent folder (`overwrite: true` replaces an earlier proclab
    run); a resumed run needs a checkpoint and, if the folder has a manifest, the same config
    up to `RESUME_SAFE` fields."""
    out = config.output_dir
    if not is_main_process():
        return None if resume is None else find_checkpoint(out, resume)
    manifest = read_manifest(out)
    if resume is None:
        if out.is_dir() and any(out.iterdir()):
            if config.overwrite and manifest is not None:
                shutil.rmtree(out)
            else:
                raise _occupied(out, config, manifest)
        return None
    checkpoint = find_checkpoint(out, resume)
    if manifest is not None:
        changed = config_diff(manifest.get("config", {}), config.model_dump(mode="json"))
        if changed:
            raise ProclabError(
                f"{out} holds another run (config differs in: {', '.join(changed)})",
                where="output_dir",
                fix="resume with the run's own config, or choose a new output_dir",
            )
    return checkpoint


def _occupied(out: Path, config: RunConfig, manifest: dict[str, Any] | None) -> ProclabError:
    if manifest is None:
        return ProclabError(f"{out} is not empty and holds no proclab training run",
                            where="output_dir", fix="choose a new or empty output_dir")
    changed = config_diff(manifest.get("config", {}), config.model_dump(mode="json"))
    what = (f"{out} holds another run (config differs in: {', '.join(changed[:6])})" if changed
            else f"{out} already holds this run")
    return ProclabError(what, where="output_dir",
                        fix="pass --resume auto to continue it, set overwrite: true to replace "
                        "it, or choose a new output_dir")


def find_checkpoint(out: Path, resume: str) -> str:
    """`auto`: the latest `checkpoint-N` in `out`; otherwise a checkpoint folder path."""
    from transformers.trainer_utils import get_last_checkpoint

    if resume == "auto":
        last = get_last_checkpoint(str(out)) if out.is_dir() else None
        if last is None:
            raise ProclabError(f"--resume auto: no checkpoint-N folder in {out}",
                               fix="start without --resume, or point --resume at a checkpoint")
        return last
    path = Path(resume).expanduser()
    if not (path / "trainer_state.json").is_file():
        raise ProclabError(f"--resume {resume}: not a checkpoint (no trainer_state.json)",
                           fix="pass --resume auto, or a checkpoint-N folder of this run")
    return str(path)


def config_diff(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted keys whose values differ, `RESUME_SAFE` ones left out."""
    changed: list[str] = []
    for key in sorted(set(old) | set(new)):
        dotted = f"{prefix}{key}"
        a, b = old.get(key, ADDED_KEYS.get(dotted)), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            changed += config_diff(a, b, f"{dotted}.")
        elif a != b and not any(dotted == s or (s.endswith(".") and dotted.startswith(s))
                                for s in RESUME_SAFE):
            changed.append(dotted)
    return changed


def read_manifest(out: Path) -> dict[str, Any] | None:
    path = out / MANIFEST
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return None


def write_manifest(config: RunConfig, **fields: Any) -> Path:
    """`output_dir/proclab-train.json`: config, its hash, versions, git commit and `fields`."""
    import peft
    import transformers
    import trl

    path = config.output_dir / MANIFEST
    if not is_main_process():
        return path
    config.output_dir.mkdir(parents=True, exist_ok=True)
    previous = read_manifest(config.output_dir) or {}
    body = {
        **previous,
        "schema_version": SCHEMA_VERSION,
        "method": config.method,
        "finetune": config.finetune,
        "config": config.model_dump(mode="json"),
        "config_sha256": config.sha256(),
        "git_commit": _git_commit(),
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "trl": trl.__version__, "peft": peft.__version__,
                     "python": platform.python_version()},
        **fields,
    }
    path.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def _git_commit() -> str | None:
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
