"""Training configs: shipped files validate, unknown keys are named all at once, cross-field
rules, overrides, and which config changes a resumed run may carry."""

from __future__ import annotations

from pathlib import Path

import pytest

from proclab.errors import ConfigError, ErrorList
from proclab.train.config import (
    DEFAULT_TARGETS,
    GRPORunConfig,
    SFTRunConfig,
    apply_overrides,
    load_config,
    parse_config,
)
from proclab.train.runtime import config_diff

ROOT = Path(__file__).resolve().parents[2]
TRAIN_CONFIGS = sorted((ROOT / "configs" / "train").glob("*.yaml"))
assert len(TRAIN_CONFIGS) >= 4, "configs/train/ went missing"


def _sft(**extra):
    return {"method": "sft", "model": "tiny", "output_dir": "out",
            "data": {"sft_file": "sft.jsonl"}, **extra}


@pytest.mark.parametrize("path", TRAIN_CONFIGS, ids=lambda p: p.name)
def test_every_shipped_config_validates(path):
    config = load_config(path)
    expected = GRPORunConfig if "grpo" in path.name else SFTRunConfig
    assert type(config) is expected


@pytest.mark.parametrize("name, kind", [("fsdp.yaml", "FSDP"),
                                        ("deepspeed-zero3.yaml", "DEEPSPEED")])
def test_accelerate_configs_load_with_accelerate(name, kind):
    from accelerate.commands.config.config_args import load_config_from_file

    config = load_config_from_file(str(ROOT / "configs" / "accelerate" / name))
    assert str(config.distributed_type).endswith(kind)
    assert config.mixed_precision == "bf16"


def test_unknown_keys_are_all_named_at_once():
    raw = _sft(learning_rat=1.0, optim={"max_step": 3}, lora={"rank": 4})
    with pytest.raises(ErrorList) as err:
        parse_config(raw)
    text = str(err.value)
    for key in ("'learning_rat'", "'optim.max_step'", "'lora.rank'"):
        assert f"unknown key {key}" in text
    assert len(err.value.errors) == 3


def test_defaults_target_every_attention_and_mlp_projection():
    config = parse_config(_sft())
    assert config.lora.target_modules == list(DEFAULT_TARGETS)
    assert set(DEFAULT_TARGETS) == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                    "up_proj", "down_proj"}


def test_method_mismatch_and_unknown_method():
    with pytest.raises(ConfigError, match="this is a sft config, not grpo"):
        parse_config(_sft(), method="grpo")
    with pytest.raises(ConfigError, match=r"did you mean 'sft'"):
        parse_config({**_sft(), "method": "sfft"})


def test_cross_field_rules_are_reported_together():
    raw = {"method": "sft", "model": "tiny", "output_dir": "o",
           "data": {"prompt_orders": "all", "eval_split": "heldout"},
           "sft": {"packing": True, "signal_beta": 1.0}}
    with pytest.raises(ErrorList) as err:
        parse_config(raw)
    text = str(err.value)
    assert "data.sft_file" in text
    assert "packing drops the [SIG=...] token mask" in text
    assert "re-ordering prompts needs data.records" in text
    assert "data.eval_split: needs data.records" in text


def test_grpo_generation_batch_must_hold_whole_groups():
    raw = {"method": "grpo", "model": "tiny", "output_dir": "o", "data": {"records": "d"},
           "optim": {"batch_size": 6}, "grpo": {"num_generations": 4}}
    with pytest.raises(ErrorList, match="num_generations=4 must divide the generation batch"):
        parse_config(raw)
    raw["optim"]["batch_size"] = 8
    assert parse_config(raw).grpo.num_generations == 4


def test_bad_prompt_order_is_a_field_error_with_a_suggestion():
    with pytest.raises(ErrorList) as err:
        parse_config(_sft(data={"sft_file": "x", "records": "d", "prompt_orders": "PSQ,QSX"},
                          seed="zero"))
    text = str(err.value)
    assert "data.prompt_orders" in text and "unknown prompt order 'QSX' (did you mean" in text
    assert "seed" in text and len(err.value.errors) == 2


def test_overrides_set_nested_typed_values_and_are_validated():
    raw = apply_overrides(_sft(), ["optim.max_steps=7", "sft.signal_beta=0.25",
                                   "logging.report_to=[none]", "data.limit="])
    config = parse_config(raw)
    assert (config.optim.max_steps, config.sft.signal_beta) == (7, 0.25)
    assert config.logging.report_to == ["none"] and config.data.limit is None
    with pytest.raises(ErrorList, match="unknown key 'optim.max_stepz'"):
        parse_config(apply_overrides(_sft(), ["optim.max_stepz=3"]))
    with pytest.raises(ConfigError, match="bad override"):
        apply_overrides(_sft(), ["optim.max_steps"])


def test_resume_tolerates_longer_schedules_but_not_other_changes():
    old = parse_config(_sft()).model_dump(mode="json")
    longer = parse_config(_sft(optim={"max_steps": 50}, logging={"logging_steps": 1}))
    assert config_diff(old, longer.model_dump(mode="json")) == []
    other = parse_config(_sft(lora={"r": 4}, seed=3))
    assert config_diff(old, other.model_dump(mode="json")) == ["lora.r", "seed"]
