"""Full-parameter fine-tuning (`finetune: full`) and answer-only SFT (`sft.target: answer`) on
the tiny model: every weight moves, the output is a plain model folder, the answer-only labels
cover only the final-answer line, and the bad combinations are refused."""

from __future__ import annotations

import json

import pytest
import torch
from tests.train.test_cli import ROOT, TINY_SFT, _sets, run_cli
from tests.train.test_grpo import vowel_share
from tests.train.test_sft import StopAt

from proclab.errors import ErrorList, ProclabError
from proclab.prompts import final_answer_line
from proclab.train.config import load_config, parse_config
from proclab.train.data import IGNORE_INDEX, load_sft_rows, sft_examples
from proclab.train.grpo import GRPORecipe
from proclab.train.sft import SFTRecipe, run_sft

MINI = ROOT / "configs" / "train"
IM_END = "<|im_end|>"


def full_sft_config(tiny_model, data_dir, out, max_steps=3, **sft):
    return parse_config({
        "method": "sft", "model": str(tiny_model), "output_dir": str(out), "seed": 0,
        "finetune": "full",
        "data": {"sft_file": str(data_dir / "sft.jsonl"),
                 "eval_sft_file": str(data_dir / "eval-sft.jsonl")},
        "optim": {"max_steps": max_steps, "batch_size": 2, "learning_rate": 1e-3},
        "sft": sft,
        "logging": {"logging_steps": 1, "save_steps": 3, "report_to": ["none"]},
    })


def _trainable(model):
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def _unchanged(before, model):
    after = dict(model.named_parameters())
    return [n for n, p in before.items() if torch.equal(p, after[n].detach())]


@pytest.fixture(scope="module")
def full_run(tiny_model, data_dir, tmp_path_factory):
    """A 3-step full SFT run: (outcome, the parameters before training)."""
    recipe = SFTRecipe(full_sft_config(tiny_model, data_dir,
                                       tmp_path_factory.mktemp("full") / "run",
                                       signal_beta=0.5))
    recipe.setup()
    before = _trainable(recipe.trainer.model)
    return recipe.save(recipe.train()), before


@pytest.mark.slow
def test_full_sft_changes_every_weight_and_saves_a_plain_model(full_run, tiny_model, data_dir):
    from transformers import AutoModelForCausalLM

    outcome, before = full_run
    model = outcome.trainer.model
    assert not hasattr(model, "peft_config")
    total = sum(p.numel() for p in AutoModelForCausalLM.from_pretrained(tiny_model).parameters())
    assert sum(p.numel() for p in before.values()) == total  # the whole model trains
    assert _unchanged(before, model) == []
    out = outcome.output_dir
    assert not (out / "adapter_config.json").exists()
    assert (out / "model.safetensors").is_file() and (out / "chat_template.jinja").is_file()
    manifest = json.loads((out / "proclab-train.json").read_text())
    assert manifest["finetune"] == "full" and manifest["status"] == "done"
    assert manifest["data"]["train"]["target"] == "scaffold"

    reloaded = AutoModelForCausalLM.from_pretrained(out).eval()
    row = json.loads((data_dir / "eval-sft.jsonl").read_text().splitlines()[0])
    tokenizer = outcome.trainer.processing_class
    text = tokenizer.apply_chat_template(row["messages"][:1], tokenize=False,
                                         add_generation_prompt=True)
    inputs = tokenizer(text, return_tensors="pt", add_special_tokens=False)
    with torch.no_grad():
        torch.testing.assert_close(reloaded(**inputs).logits, model.eval()(**inputs).logits,
                                   rtol=0, atol=1e-5)


@pytest.mark.slow
def test_the_evaluation_harness_takes_a_full_run_as_its_model(full_run, data_dir, tmp_path):
    from proclab.dataset.records import load_split
    from proclab.evaluate.config import make_config
    from proclab.evaluate.runner import run_eval

    config = make_config(backend="hf", data=str(data_dir), split="heldout",
                         model=str(full_run[0].output_dir), max_new_tokens=4, batch_size=2,
                         resamples=0)
    scored = run_eval(config, tmp_path / "eval")
    assert scored.results.n == len(load_split(data_dir, "heldout"))


@pytest.mark.slow
def test_merging_a_full_run_exits_2(full_run, tmp_path, capsys):
    out = full_run[0].output_dir
    code, _, err = run_cli(["train", "merge", "--adapter", str(out), "--out",
                            str(tmp_path / "merged")], capsys)
    assert code == 2 and "nothing to merge" in err and "AutoModelForCausalLM" in err
    assert not (tmp_path / "merged").exists()


@pytest.mark.slow
def test_full_grpo_changes_every_weight(tiny_model, data_dir, tmp_path):
    config = parse_config({
        "method": "grpo", "model": str(tiny_model), "output_dir": str(tmp_path / "g"),
        "seed": 0, "finetune": "full", "data": {"records": str(data_dir), "limit": 4},
        "grpo": {"num_generations": 4, "max_completion_length": 12, "kl_beta": 0.04},
        "optim": {"max_steps": 2, "batch_size": 4, "learning_rate": 1e-3},
        "logging": {"logging_steps": 1, "save_steps": 2, "report_to": ["none"]},
    })
    recipe = GRPORecipe(config, reward_funcs=[vowel_share])
    recipe.setup()
    assert recipe.trainer.ref_model is not None  # kl_beta > 0: a frozen copy of the base
    before = _trainable(recipe.trainer.model)
    assert before and not any("lora_" in n for n in before)
    outcome = recipe.save(recipe.train())
    assert outcome.global_step == 2
    assert _unchanged(before, recipe.trainer.model) == []
    assert not (outcome.output_dir / "adapter_config.json").exists()
    assert (outcome.output_dir / "model.safetensors").is_file()


def _label_texts(examples, tokenizer):
    return [tokenizer.decode([t for t in e["labels"] if t != IGNORE_INDEX]) for e in examples]


@pytest.mark.parametrize("fixture, name", [("data_dir", "sft.jsonl"),
                                           ("distilled_dir", "sft.jsonl")])
def test_answer_only_labels_are_the_final_answer_line(fixture, name, tiny_model, request):
    from transformers import AutoTokenizer

    rows = load_sft_rows(request.getfixturevalue(fixture) / name)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    examples, stats = sft_examples(rows, tokenizer, orders=["PSQ"], order_mode="sample",
                                   records=None, max_length=4096, seed=0, target="answer")
    assert len(examples) == len(rows) and stats.target == "answer"
    assert _label_texts(examples, tokenizer) == [final_answer_line(r.label) + IM_END
                                                 for r in rows]
    assert stats.signal_tokens == 0
    # The same prompts as the scaffolded examples: only the assistant turn differs.
    scaffold, _ = sft_examples(rows, tokenizer, orders=["PSQ"], order_mode="sample",
                               records=None, max_length=4096, seed=0)
    for short, full in zip(examples, scaffold, strict=True):
        start = next(i for i, t in enumerate(full["labels"]) if t != IGNORE_INDEX)
        assert short["input_ids"][:start] == full["input_ids"][:start]
        assert all(t == IGNORE_INDEX for t in short["labels"][:start])


@pytest.mark.slow
def test_answer_only_full_sft_records_its_target(tiny_model, data_dir, tmp_path):
    config = full_sft_config(tiny_model, data_dir, tmp_path / "a", target="answer")
    outcome = run_sft(config)
    manifest = json.loads((outcome.output_dir / "proclab-train.json").read_text())
    assert manifest["config"]["sft"]["target"] == "answer"
    line = outcome.trainer.processing_class(final_answer_line("NON-COMPLIANT") + IM_END,
                                            add_special_tokens=False)["input_ids"]
    for split in ("train", "eval"):
        stats = manifest["data"][split]
        assert stats["target"] == "answer" and stats["signal_tokens"] == 0
        assert 0 < stats["loss_tokens"] <= len(line) * stats["examples"]  # one line each


def test_answer_target_with_signal_beta_is_a_config_error(tiny_model, data_dir, tmp_path):
    with pytest.raises(ErrorList) as err:
        full_sft_config(tiny_model, data_dir, tmp_path, target="answer", signal_beta=0.5)
    assert len(err.value.errors) == 1
    assert "sft.target: answer" in str(err.value) and "sft.signal_beta=0.5" in str(err.value)


def test_full_with_lora_fields_is_refused_naming_them(tiny_model, data_dir, tmp_path):
    raw = {"method": "sft", "model": "tiny", "output_dir": str(tmp_path), "finetune": "full",
           "data": {"sft_file": "x.jsonl"}, "lora": {"r": 4, "alpha": 8}}
    with pytest.raises(ErrorList) as err:
        parse_config(raw)
    assert len(err.value.errors) == 1
    message = str(err.value)
    assert "lora.alpha, lora.r" in message
    assert "remove the lora section, or use finetune: lora" in message
    with pytest.raises(ErrorList, match=r"LoRA settings \(lora\)"):
        parse_config({**raw, "lora": {}})
    assert parse_config({**raw, "finetune": "lora"}).lora.r == 4
    assert parse_config({k: v for k, v in raw.items() if k != "lora"}).finetune == "full"


@pytest.mark.parametrize("config, sets, fields", [
    (MINI / "mini-cpu-sft.yaml", ["lora.r=4"], "(lora.r)"),
    (MINI / "mini-cpu-grpo.yaml", ["lora.dropout=0.1"], "(lora.dropout)"),
    (TINY_SFT, ["finetune=full"], "(lora.alpha, lora.dropout, lora.r, lora.target_modules)"),
])
def test_cli_full_with_lora_fields_exits_2(config, sets, fields, capsys):
    method = "grpo" if "grpo" in str(config) else "sft"
    args = ["train", method, "--config", str(config), *[a for s in sets for a in ("--set", s)]]
    code, _, err = run_cli(args, capsys)
    assert code == 2 and "Traceback" not in err
    assert fields in err and "remove the lora section, or use finetune: lora" in err


def test_shipped_mini_configs(tmp_path):
    sft = load_config(MINI / "mini-cpu-sft.yaml")
    answer = load_config(MINI / "mini-cpu-answer.yaml")
    grpo = load_config(MINI / "mini-cpu-grpo.yaml")
    assert {sft.finetune, answer.finetune, grpo.finetune} == {"full"}
    assert (sft.sft.target, answer.sft.target) == ("scaffold", "answer")
    assert answer.sft.signal_beta == 0
    # The two SFT arms differ only in what the assistant turn holds (and the signal weight).
    differ = {k for k, v in sft.model_dump().items() if answer.model_dump()[k] != v}
    assert differ <= {"output_dir", "sft", "logging"}
    assert grpo.grpo.max_completion_length == 16  # an answer line: the warm start answers directly


@pytest.mark.slow
def test_a_full_run_refuses_to_resume_as_lora(full_run, tiny_model, data_dir):
    out = full_run[0].output_dir
    config = full_sft_config(tiny_model, data_dir, out, signal_beta=0.5)
    lora = config.model_copy(update={"finetune": "lora"})
    with pytest.raises(ProclabError, match=r"config differs in: finetune"):
        SFTRecipe(lora).setup(resume="auto")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mini-cpu-sft.yaml", "mini-cpu-answer.yaml"])
def test_shipped_full_sft_configs_run_from_the_command_line(name, tiny_model, data_dir, tmp_path,
                                                            capsys):
    out = tmp_path / "run"
    args = ["train", "sft", "--config", str(MINI / name),
            *_sets(tiny_model, data_dir, out, "optim.max_steps=2", "logging.eval_steps=2",
                   "data.max_length=4096")]
    code, stdout, err = run_cli(args, capsys)
    assert code == 0, err
    assert f"trained 2 steps -> {out}" in stdout
    assert f"model: {out} (load with AutoModelForCausalLM.from_pretrained)" in stdout
    assert (out / "model.safetensors").is_file() and not (out / "adapter_config.json").exists()


@pytest.mark.slow
def test_shipped_full_grpo_config_runs_from_the_command_line(tiny_model, data_dir, tmp_path,
                                                             capsys):
    out = tmp_path / "run"
    args = ["train", "grpo", "--config", str(MINI / "mini-cpu-grpo.yaml"),
            *_sets(tiny_model, data_dir, out, "optim.max_steps=1", "data.max_length=4096",
                   "data.limit=4")]
    code, stdout, err = run_cli(args, capsys)
    assert code == 0, err
    assert f"model: {out} (load with AutoModelForCausalLM.from_pretrained)" in stdout
    assert (out / "model.safetensors").is_file() and not (out / "adapter_config.json").exists()


@pytest.mark.slow
def test_a_full_run_resumes_from_its_checkpoint(tiny_model, data_dir, tmp_path):
    config = full_sft_config(tiny_model, data_dir, tmp_path / "r", max_steps=4)
    first = run_sft(config, callbacks=[StopAt(3).callback])
    assert first.global_step == 3
    assert (tmp_path / "r" / "checkpoint-3" / "model.safetensors").is_file()
    resumed = run_sft(config, resume="auto")
    assert resumed.global_step == 4
    assert [h["step"] for h in resumed.trainer.state.log_history if "loss" in h] == [1, 2, 3, 4]
