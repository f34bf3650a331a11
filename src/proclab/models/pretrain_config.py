"""The pretraining config (YAML): the small base model's size, its corpus, and the training run.

A file holds `model`, `corpus` and `train` sections; unknown keys anywhere are errors that name
them, and every bad field is reported at once. `--set section.key=value` overrides are applied
to the raw mapping before validation (`proclab.configfile.apply_overrides`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from proclab.configfile import apply_overrides, read_yaml_mapping
from proclab.errors import ConfigError, ErrorList, ProclabError
from proclab.models.tiny import TinySpec
from proclab.prompts.format import OrderList, parse_order_list


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelSection(_Strict):
    """A Qwen2-architecture causal LM with tied embeddings (these defaults: 2.4M parameters;
    configs/models/mini.yaml picks the narrower 1.3M one that learned more per minute)."""

    vocab_size: int = 4096
    num_layers: int = 4
    hidden_size: int = 192
    num_heads: int = 6
    num_kv_heads: int = 2
    intermediate_size: int = 512
    max_position_embeddings: int = 2048
    # 0.02 (the usual) for a model that is trained; the untrained tiny model uses 0.2.
    initializer_range: float = Field(0.02, gt=0)

    def spec(self, seed: int) -> TinySpec:
        return TinySpec(
            vocab_size=self.vocab_size, num_layers=self.num_layers,
            hidden_size=self.hidden_size, num_heads=self.num_heads,
            num_kv_heads=self.num_kv_heads, intermediate_size=self.intermediate_size,
            max_position_embeddings=self.max_position_embeddings, seed=seed,
        )  # fmt: skip


class CorpusSection(_Strict):
    """Text generated from training material only. `procedures`: every training procedure
    rendered in every house style the dataset does not hold out; `chats`: each record of the
    `splits` as full chat text, the reference prompt then the oracle's scaffolded trace (the
    SFT assistant turn), `samples` oracle traces per record, one copy per prompt order."""

    splits: list[str] = Field(default_factory=lambda: ["train"], min_length=1)
    procedures: bool = True
    chats: bool = True
    max_records: int | None = Field(None, ge=1, description="a fixed sample spread over a split")
    samples: int = Field(1, ge=1, le=16, description="oracle traces per record")
    prompt_orders: OrderList = Field("PSQ", description='"PSQ", "all" or a comma list')
    oracle_seed: int = 0

    def orders(self) -> list[str]:
        return parse_order_list(self.prompt_orders)


class TrainSection(_Strict):
    seq_len: int = Field(1024, ge=16, description="tokens per packed block")
    batch_size: int = Field(8, ge=1, description="blocks per step")
    grad_accum: int = Field(1, ge=1)
    learning_rate: float = Field(3e-3, gt=0)
    lr_scheduler: str = "cosine"
    warmup_steps: int = Field(20, ge=0)
    max_steps: int = Field(-1, ge=-1, description="-1: run num_epochs epochs")
    num_epochs: float = Field(1.0, gt=0)
    weight_decay: float = Field(0.1, ge=0.0)
    # 0.95, not AdamW's 0.999: the second-moment estimate follows the fast early loss drop of
    # a small model trained for a few hundred steps.
    adam_beta2: float = Field(0.95, gt=0.0, lt=1.0)
    max_grad_norm: float = Field(1.0, gt=0)
    seed: int = 0
    save_steps: int = Field(100, ge=1)
    save_total_limit: int | None = Field(2, ge=1)
    logging_steps: int = Field(10, ge=1)
    threads: int | None = Field(None, ge=1, description="torch CPU threads (None: torch's)")


class PretrainConfig(_Strict):
    version: Literal[1] = 1
    model: ModelSection = Field(default_factory=ModelSection)
    corpus: CorpusSection = Field(default_factory=CorpusSection)
    train: TrainSection = Field(default_factory=TrainSection)

    def sha256(self) -> str:
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()


def parse_pretrain_config(raw: dict[str, Any], *, where: str = "<config>") -> PretrainConfig:
    """Validate `raw`, naming every problem (field errors and model-size errors) at once."""
    problems: list[ProclabError] = []
    config: PretrainConfig | None = None
    try:
        config = PretrainConfig.model_validate(raw)
    except ValidationError as err:
        for e in err.errors():
            loc = ".".join(str(p) for p in e["loc"])
            if e["type"] == "extra_forbidden":
                problems.append(ConfigError(f"unknown key {loc!r}", where=where,
                                            fix="remove it or fix its spelling (docs/training.md)"))
            else:
                problems.append(ConfigError(e["msg"], where=f"{where}: {loc}"))
    if config is not None:
        try:
            config.model.spec(config.train.seed).check()
        except ErrorList as err:
            problems += [ConfigError(e.what, where=f"{where}: model", fix=e.fix)
                         for e in err.errors]
        if config.train.seq_len > config.model.max_position_embeddings:
            problems.append(ConfigError(
                f"train.seq_len={config.train.seq_len} exceeds model.max_position_embeddings="
                f"{config.model.max_position_embeddings}", where=where,
                fix="lower train.seq_len or raise model.max_position_embeddings"))
    if problems:
        raise ErrorList(problems, what=f"invalid pretrain config {where}")
    assert config is not None
    return config


def load_pretrain_config(path: str | Path, overrides: list[str] | None = None) -> PretrainConfig:
    """Read, override and validate a pretraining config file."""
    raw = apply_overrides(read_yaml_mapping(path, allow_empty=True), overrides or [])
    return parse_pretrain_config(raw, where=str(path))
