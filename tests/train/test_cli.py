"""`proclab train ...`: user errors exit 2 with a message and no traceback; a short run and a
merge through the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from proclab.cli import main

ROOT = Path(__file__).resolve().parents[2]
TINY_SFT = str(ROOT / "configs" / "train" / "tiny-cpu-sft.yaml")


def run_cli(args, capsys):
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _sets(tiny_model, data_dir, out, *extra):
    values = [f"model={tiny_model}", f"output_dir={out}",
              f"data.sft_file={data_dir / 'sft.jsonl'}", f"data.records={data_dir}",
              "data.eval_split=null", f"data.eval_sft_file={data_dir / 'eval-sft.jsonl'}",
              "logging.report_to=[none]", *extra]
    return [arg for v in values for arg in ("--set", v)]


@pytest.mark.parametrize("args, message", [
    (["train", "sft", "--config", "no/such.yaml"], "config file not found"),
    (["train", "grpo", "--config", TINY_SFT], "this is a sft config, not grpo"),
    (["train", "sft", "--config", TINY_SFT, "--set", "sft.bogus=1", "--set", "lora.rank=2"],
     "unknown key 'lora.rank'"),
    (["train", "merge", "--adapter", "no/such/run", "--out", "x"], "holds no PEFT adapter"),
])
def test_user_errors_exit_2_without_traceback(args, message, capsys):
    code, _, err = run_cli(args, capsys)
    assert code == 2
    assert message in err and "Traceback" not in err


def test_resume_without_checkpoint_exits_2(tiny_model, data_dir, tmp_path, capsys):
    args = ["train", "sft", "--config", TINY_SFT, "--resume", "auto",
            *_sets(tiny_model, data_dir, tmp_path / "none")]
    code, _, err = run_cli(args, capsys)
    assert code == 2 and "no checkpoint-N folder" in err


def test_a_dataset_without_assistant_turns_exits_2(tiny_model, data_dir, tmp_path, capsys):
    bad = tmp_path / "prompts-only.jsonl"
    bad.write_text('{"id": "a", "messages": [{"role": "user", "content": "hi"}]}\n')
    args = ["train", "sft", "--config", TINY_SFT, *_sets(tiny_model, data_dir, tmp_path / "o"),
            "--set", f"data.sft_file={bad}"]
    code, _, err = run_cli(args, capsys)
    assert code == 2 and "no assistant turn" in err and f"{bad}:1" in err


@pytest.mark.slow
def test_sft_then_merge_from_the_command_line(tiny_model, data_dir, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "sft", "--config", TINY_SFT,
            *_sets(tiny_model, data_dir, out, "optim.max_steps=2", "logging.eval_steps=2")]
    code, stdout, err = run_cli(args, capsys)
    assert code == 0, err
    assert f"trained 2 steps -> {out}" in stdout and "eval loss" in stdout
    code, stdout, err = run_cli(["train", "merge", "--adapter", str(out), "--out",
                                 str(tmp_path / "merged")], capsys)
    assert code == 0, err
    assert (tmp_path / "merged" / "model.safetensors").is_file()
