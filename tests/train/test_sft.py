"""Scaffolded LoRA SFT on the tiny model: the loss falls, the adapter round-trips and loads the
way a published PEFT adapter is used (then the evaluation harness scores it), merge, resume,
and the run-folder errors."""

from __future__ import annotations

import json
import math

import pytest
import torch

from proclab.errors import ConfigError, ProclabError
from proclab.train.config import parse_config
from proclab.train.sft import run_sft

pytestmark = pytest.mark.slow


def sft_config(tiny_model, data_dir, out, **sections):
    raw = {"method": "sft", "model": str(tiny_model), "output_dir": str(out), "seed": 0,
           "data": {"sft_file": str(data_dir / "sft.jsonl"),
                    "eval_sft_file": str(data_dir / "eval-sft.jsonl")},
           "lora": {"r": 8, "alpha": 16, "dropout": 0.0},
           "optim": {"max_steps": 8, "batch_size": 2, "learning_rate": 1e-2},
           "sft": {"signal_beta": 0.5},
           "logging": {"logging_steps": 1, "save_steps": 4, "eval_steps": 8}}
    for name, values in sections.items():
        raw[name] = {**raw.get(name, {}), **values} if isinstance(values, dict) else values
    return parse_config(raw)


@pytest.fixture(scope="module")
def trained(tiny_model, data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("sft") / "run"
    return run_sft(sft_config(tiny_model, data_dir, out))


def _losses(outcome):
    return [h["loss"] for h in outcome.trainer.state.log_history if "loss" in h]


def test_loss_decreases_and_the_run_is_saved(trained):
    losses = _losses(trained)
    assert len(losses) == 8
    assert sum(losses[-2:]) / 2 < 0.85 * sum(losses[:2]) / 2
    assert "eval_loss" in trained.metrics and trained.metrics["eval_loss"] < losses[0]
    out = trained.output_dir
    for name in ("adapter_config.json", "adapter_model.safetensors", "tokenizer_config.json",
                 "chat_template.jinja", "checkpoint-8/trainer_state.json"):
        assert (out / name).is_file(), name
    assert list((out / "runs").rglob("events.out.tfevents.*")), "no TensorBoard log"
    manifest = json.loads((out / "proclab-train.json").read_text())
    assert manifest["status"] == "done" and manifest["global_step"] == 8
    assert manifest["data"]["train"]["signal_tokens"] > 0


def _inputs(tokenizer, data_dir):
    row = json.loads((data_dir / "eval-sft.jsonl").read_text().splitlines()[0])
    text = tokenizer.apply_chat_template(row["messages"][:1], tokenize=False,
                                         add_generation_prompt=True)
    return tokenizer(text, return_tensors="pt", add_special_tokens=False)


def test_adapter_round_trips_with_equal_logits(trained, tiny_model, data_dir):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = trained.trainer.model.eval()
    inputs = _inputs(trained.trainer.processing_class, data_dir)
    reloaded = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model),
                                         trained.output_dir).eval()
    base = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    with torch.no_grad():
        before, after = model(**inputs).logits, reloaded(**inputs).logits
        untrained = base(**inputs).logits
    torch.testing.assert_close(after, before, rtol=0, atol=1e-5)
    assert (after - untrained).abs().max() > 1e-2  # the adapter changes the model


def test_published_adapter_snippet_then_the_evaluation_harness(trained, tiny_model, data_dir,
                                                               tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from proclab.dataset.records import load_split
    from proclab.evaluate.config import make_config
    from proclab.evaluate.runner import run_eval
    from proclab.infer.base import Generation
    from proclab.prompts import score_output

    # Exactly how a published adapter is used: base, PeftModel, the chat template, greedy.
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    model = PeftModel.from_pretrained(model, str(trained.output_dir))
    tokenizer = AutoTokenizer.from_pretrained(str(trained.output_dir))
    outputs: dict[str, str] = {}

    def snippet(messages):
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        inputs = tokenizer(text, return_tensors="pt", add_special_tokens=False)
        out = model.generate(**inputs, max_new_tokens=12, do_sample=False)
        return tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)

    class SnippetEvaluator:
        name, info = "snippet", {"how": "published-adapter snippet"}

        def answer(self, records, prompts, config):
            for record, messages in zip(records, prompts, strict=True):
                outputs[record.id] = snippet(messages).strip()
            return [Generation(text=outputs[r.id]) for r in records]

    def config():
        return make_config(backend="hf", data=str(data_dir), split="heldout",
                           model=str(tiny_model), adapter=str(trained.output_dir),
                           max_new_tokens=12, batch_size=1, resamples=0)

    scored = run_eval(config(), tmp_path / "snippet", evaluator=SnippetEvaluator())
    records = load_split(data_dir, "heldout")
    assert scored.results.n == len(records) == len(outputs)
    accuracy = sum(score_output(outputs[r.id], r.label) for r in records) / len(records)
    assert scored.results.metrics["accuracy"].value == pytest.approx(accuracy)
    # The harness's own hf backend, given the adapter folder, answers exactly the same.
    harness = run_eval(config(), tmp_path / "hf")
    logged = [json.loads(line) for line in (tmp_path / "hf" / "samples.jsonl").open()]
    assert {s["id"]: s["output"] for s in logged} == outputs
    assert harness.results.metrics["accuracy"].value == pytest.approx(accuracy)


def test_merge_writes_a_model_with_the_adapters_logits(trained, tiny_model, data_dir, tmp_path):
    from transformers import AutoModelForCausalLM

    from proclab.train.merge import merge_adapter

    merged_dir = merge_adapter(trained.output_dir, tmp_path / "merged")
    merged = AutoModelForCausalLM.from_pretrained(merged_dir).eval()
    inputs = _inputs(trained.trainer.processing_class, data_dir)
    with torch.no_grad():
        expected = trained.trainer.model.eval()(**inputs).logits
        torch.testing.assert_close(merged(**inputs).logits, expected, rtol=1e-4, atol=1e-4)
    assert not (merged_dir / "adapter_config.json").exists()
    with pytest.raises(ProclabError, match="is not empty"):
        merge_adapter(trained.output_dir, merged_dir)


class StopAt:
    """A callback that interrupts training after `step` (as a kill would, after its save)."""

    def __init__(self, step):
        from transformers import TrainerCallback

        class _Stop(TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):
                if state.global_step == step:
                    control.should_save = True
                    control.should_training_stop = True

        self.callback = _Stop()


def test_resume_continues_from_the_saved_step(tiny_model, data_dir, tmp_path):
    def config(out):
        return sft_config(tiny_model, data_dir, out, optim={"max_steps": 4},
                          logging={"save_steps": 2, "eval_steps": 4, "report_to": ["none"]})

    first = run_sft(config(tmp_path / "a"), callbacks=[StopAt(2).callback])
    assert first.global_step == 2 and (tmp_path / "a" / "checkpoint-2").is_dir()
    resumed = run_sft(config(tmp_path / "a"), resume="auto")
    assert resumed.global_step == 4
    assert [h["step"] for h in resumed.trainer.state.log_history if "loss" in h] == [1, 2, 3, 4]
    # Same steps, data order and optimizer state as a run that was never interrupted.
    straight = run_sft(config(tmp_path / "b"))
    torch.testing.assert_close(_losses(resumed), _losses(straight), rtol=1e-4, atol=1e-5)


def test_output_folder_guards(trained, tiny_model, data_dir, tmp_path):
    same = sft_config(tiny_model, data_dir, trained.output_dir)
    with pytest.raises(ProclabError, match="already holds this run") as err:
        run_sft(same)
    assert "--resume auto" in err.value.fix
    other = sft_config(tiny_model, data_dir, trained.output_dir, lora={"r": 4})
    with pytest.raises(ProclabError, match=r"holds another run \(config differs in: lora.r\)"):
        run_sft(other)
    with pytest.raises(ProclabError, match=r"holds another run"):
        run_sft(other, resume="auto")
    (tmp_path / "stray.txt").write_text("x")
    with pytest.raises(ProclabError, match="holds no proclab training run"):
        run_sft(sft_config(tiny_model, data_dir, tmp_path))
    with pytest.raises(ProclabError, match="no checkpoint-N folder"):
        run_sft(sft_config(tiny_model, data_dir, tmp_path / "empty"), resume="auto")
    with pytest.raises(ProclabError, match="not a checkpoint"):
        run_sft(sft_config(tiny_model, data_dir, tmp_path / "x"), resume=str(tmp_path))


def test_missing_target_modules_list_the_models_layers(tiny_model, data_dir, tmp_path):
    config = sft_config(tiny_model, data_dir, tmp_path / "t",
                        lora={"target_modules": ["q_proj", "query_key_value"]})
    with pytest.raises(ConfigError, match="target modules not in the model: query_key_value") \
            as err:
        run_sft(config)
    assert "down_proj, gate_proj, k_proj, o_proj, q_proj, up_proj, v_proj" in err.value.fix


def test_packing_and_padding_free_runs_train(tiny_model, data_dir, tmp_path):
    for name, sft in (("packed", {"packing": True, "signal_beta": 0.0}),
                      ("flat", {"padding_free": True})):
        outcome = run_sft(sft_config(tiny_model, data_dir, tmp_path / name, sft=sft,
                                     optim={"max_steps": 2},
                                     logging={"report_to": ["none"], "eval_steps": 2}))
        assert outcome.global_step == 2 and all(math.isfinite(x) for x in _losses(outcome))
        assert outcome.metrics["eval_loss"] > 0
