"""Training run configs (YAML): one model per method, shared sections, every bad field at once.

A file holds `method: sft | grpo`, the base `model` ("tiny" = the local tiny model), the
`output_dir`, `finetune: lora | full` (a LoRA adapter, or every weight of the model), and the
sections `data`, `lora` (LoRA runs only), `optim`, `runtime`, `logging` plus the method's own
(`sft` or `grpo`). Unknown keys anywhere are errors that name them. `--set a.b=value`
overrides are applied to the raw mapping before validation, so they are checked the same way.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from proclab.configfile import apply_overrides, read_yaml_mapping
from proclab.errors import ConfigError, ErrorList, ProclabError
from proclab.prompts.format import OrderList, parse_order_list
from proclab.registry import lookup

Method = Literal["sft", "grpo"]
Finetune = Literal["lora", "full"]
# Every attention and MLP projection of the Qwen2/Llama family (the reference models).
DEFAULT_TARGETS: tuple[str, ...] = (
    "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
)  # fmt: skip
TINY_MODEL = "tiny"
# Joins the cross-field problems of one config (a message may itself contain "; ").
PROBLEM_SEP = "\n"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataSection(_Strict):
    """Where examples come from. SFT trains on `sft_file` (distilled `sft.jsonl`); GRPO on the
    records of `records/<train_split>.jsonl`. Eval loss (SFT) uses `eval_sft_file`, or the
    oracle teacher's traces for `records/<eval_split>.jsonl`."""

    sft_file: Path | None = None
    records: Path | None = None
    train_split: str = "train"
    eval_split: str | None = None
    eval_sft_file: Path | None = None
    limit: int | None = Field(
        None, ge=1, description="use only N training examples: the first N SFT rows; for GRPO "
        "a fixed sample of records spread over the split"
    )
    eval_limit: int | None = Field(None, ge=1)
    max_length: int = Field(4096, ge=16, description="longer examples are dropped (and counted)")
    # Prompt-order augmentation: "PSQ" (none), "all", or a comma list such as "PSQ,SPQ,QPS".
    prompt_orders: OrderList = "PSQ"
    # sample: each example gets one order drawn from the list; expand: one copy per order.
    order_mode: Literal["sample", "expand"] = "sample"

    def orders(self) -> list[str]:
        return parse_order_list(self.prompt_orders)


class LoraSection(_Strict):
    r: int = Field(16, ge=1)
    alpha: int = Field(32, ge=1)
    dropout: float = Field(0.05, ge=0.0, lt=1.0)
    target_modules: list[str] | Literal["all-linear"] = Field(
        default_factory=lambda: list(DEFAULT_TARGETS), min_length=1
    )


class OptimSection(_Strict):
    learning_rate: float = Field(2e-4, gt=0)
    max_steps: int = Field(-1, ge=-1, description="-1: run num_epochs epochs")
    num_epochs: float = Field(1.0, gt=0)
    batch_size: int = Field(4, ge=1, description="per device (GRPO: completions per device)")
    grad_accum: int = Field(1, ge=1)
    warmup_ratio: float = Field(0.0, ge=0.0, lt=1.0)
    lr_scheduler: str = "cosine"
    weight_decay: float = Field(0.0, ge=0.0)
    max_grad_norm: float = Field(1.0, gt=0)


class RuntimeSection(_Strict):
    """auto: bf16 and activation checkpointing on a GPU, fp32 and no checkpointing on CPU
    (a CPU run has memory to spare; recomputing activations only costs time there)."""

    precision: Literal["auto", "bf16", "fp32"] = "auto"
    gradient_checkpointing: Literal["auto"] | bool = "auto"
    attn_implementation: str | None = Field(None, description="e.g. sdpa, flash_attention_2")
    dataloader_workers: int = Field(0, ge=0)


class LoggingSection(_Strict):
    report_to: list[Literal["tensorboard", "wandb", "none"]] = Field(
        default_factory=lambda: ["tensorboard"]
    )
    logging_steps: int = Field(10, ge=1)
    save_steps: int = Field(200, ge=1)
    eval_steps: int | None = Field(None, ge=1, description="default: save_steps")
    save_total_limit: int | None = Field(3, ge=1)
    run_name: str | None = None


class SFTSection(_Strict):
    """The engaged endpoint. `signal_beta` adds weight beta to the loss of `[SIG=...]` tokens
    (weight 1 + beta; 0 = plain next-token loss on the assistant turn). `target: answer` is the
    contrast arm: the same examples with the assistant turn cut to the final-answer line."""

    signal_beta: float = Field(0.0, ge=0.0)
    target: Literal["scaffold", "answer"] = Field(
        "scaffold", description="scaffold: the distilled trace; answer: only 'Final answer: X'"
    )
    group_by_length: bool = True
    padding_free: bool = False
    packing: bool = False
    # Right padding + causal attention: no real token sees a pad, so the mask only costs time.
    keep_attention_mask: bool = False


class GRPOSection(_Strict):
    """The heuristic endpoint: reward 1 when the parsed verdict equals the gold label."""

    num_generations: int = Field(8, ge=2)
    max_completion_length: int = Field(512, ge=1)
    temperature: float = Field(1.0, gt=0)
    kl_beta: float | None = Field(None, ge=0.0, description="None: TRL's default")
    generation_batch_size: int | None = Field(None, ge=1)
    loss_type: str | None = Field(None, description="None: TRL's default")
    scale_rewards: Literal["group", "batch", "none"] | None = None


class RunConfig(_Strict):
    version: Literal[1] = 1
    method: Method
    model: str = Field(min_length=1, description='"tiny", a local folder or a hub id')
    output_dir: Path
    finetune: Finetune = Field(
        "lora", description="lora: train and save a PEFT adapter; full: every weight, saved as "
        "a plain model folder"
    )
    seed: int = 0
    overwrite: bool = Field(False, description="replace an earlier proclab run in output_dir")
    data: DataSection = Field(default_factory=DataSection)
    lora: LoraSection = Field(default_factory=LoraSection)
    optim: OptimSection = Field(default_factory=OptimSection)
    runtime: RuntimeSection = Field(default_factory=RuntimeSection)
    logging: LoggingSection = Field(default_factory=LoggingSection)

    def sha256(self) -> str:
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()


class SFTRunConfig(RunConfig):
    method: Literal["sft"] = "sft"
    sft: SFTSection = Field(default_factory=SFTSection)

    @model_validator(mode="after")
    def _check(self) -> SFTRunConfig:
        problems = []
        if self.data.sft_file is None:
            problems.append("data.sft_file: SFT needs the distilled traces (sft.jsonl)")
        if self.sft.packing and self.sft.signal_beta > 0:
            problems.append("sft.packing: packing drops the [SIG=...] token mask; use "
                            "padding_free, or signal_beta: 0")
        if self.sft.target == "answer" and self.sft.signal_beta > 0:
            problems.append(
                f"sft.target: answer with sft.signal_beta={self.sft.signal_beta}: answer-only "
                "examples have no [SIG=...] tokens to weight; set signal_beta: 0, or use "
                "target: scaffold")
        problems += _common_problems(self)
        if problems:
            raise ValueError(PROBLEM_SEP.join(problems))
        return self


class GRPORunConfig(RunConfig):
    method: Literal["grpo"] = "grpo"
    grpo: GRPOSection = Field(default_factory=GRPOSection)

    @model_validator(mode="after")
    def _check(self) -> GRPORunConfig:
        problems = [] if self.data.records else ["data.records: GRPO needs the dataset directory"]
        effective = self.optim.batch_size * self.optim.grad_accum
        generation_batch = self.grpo.generation_batch_size or effective
        if generation_batch % self.grpo.num_generations:
            problems.append(
                f"grpo.num_generations={self.grpo.num_generations} must divide the generation "
                f"batch ({generation_batch} = generation_batch_size, or batch_size x grad_accum)"
            )
        problems += _common_problems(self)
        if problems:
            raise ValueError(PROBLEM_SEP.join(problems))
        return self


def _common_problems(config: RunConfig) -> list[str]:
    problems = []
    if config.data.orders() != ["PSQ"] and config.data.records is None:
        problems.append("data.prompt_orders: re-ordering prompts needs data.records (the "
                        "dataset directory) to rebuild each prompt from its record")
    if config.data.eval_split and config.data.records is None:
        problems.append("data.eval_split: needs data.records")
    if config.finetune == "full" and "lora" in config.model_fields_set:
        keys = sorted(config.lora.model_fields_set)
        fields = ", ".join(f"lora.{k}" for k in keys) if keys else "lora"
        problems.append(f"finetune: full trains every weight, so the LoRA settings ({fields}) "
                        "would be ignored; remove the lora section, or use finetune: lora")
    return problems


CONFIGS: dict[str, type[RunConfig]] = {"sft": SFTRunConfig, "grpo": GRPORunConfig}


def read_yaml(path: str | Path) -> dict[str, Any]:
    """The raw mapping of a YAML config file; errors name the file (and line)."""
    return read_yaml_mapping(path)


def parse_config(raw: dict[str, Any], *, method: str | None = None,
                 where: str = "<config>") -> RunConfig:
    """Validate `raw` as a config for `method` (default: its `method` key), naming every problem."""
    chosen = method or raw.get("method")
    if chosen is None:
        raise ConfigError("no method given", where=where, fix="add `method: sft` or `method: grpo`")
    cls = lookup(CONFIGS, str(chosen), kind="training method")
    if raw.get("method", chosen) != chosen:
        raise ConfigError(f"this is a {raw['method']} config, not {chosen}", where=where,
                          fix=f"run `proclab train {raw['method']}`, or use a {chosen} config")
    try:
        return cls.model_validate({**raw, "method": chosen})
    except ValidationError as err:
        raise ErrorList(_field_errors(err, where), what=f"invalid {chosen} config {where}") from None


def _field_errors(err: ValidationError, where: str) -> list[ProclabError]:
    errors: list[ProclabError] = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"])
        if e["type"] == "extra_forbidden":
            errors.append(ConfigError(f"unknown key {loc!r}", where=where,
                                      fix="remove it or fix its spelling (see docs/training.md)"))
        elif e["type"] == "value_error" and not loc:
            for msg in str(e["msg"]).removeprefix("Value error, ").split(PROBLEM_SEP):
                errors.append(ConfigError(msg, where=where))
        else:
            errors.append(ConfigError(e["msg"], where=f"{where}: {loc}"))
    return errors


def load_config(path: str | Path, *, method: str | None = None,
                overrides: list[str] | None = None) -> RunConfig:
    """Read, override and validate a training config file."""
    raw = apply_overrides(read_yaml(path), overrides or [])
    return parse_config(raw, method=method, where=str(path))
