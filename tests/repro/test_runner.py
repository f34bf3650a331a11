"""`proclab repro`: stages run in order in their own processes, a killed run resumes without
redoing finished stages, and changed commands rerun their stage and what follows."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from proclab.cli import main
from proclab.errors import ConfigError, ErrorList
from proclab.repro.config import ReproConfig, expand, load_repro

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted((REPO / "configs" / "repro").glob("*.yaml"))


def _config(tmp_path: Path, stages: str) -> Path:
    path = tmp_path / "r.yaml"
    path.write_text(f"version: 1\nname: t\nbudget_minutes: 5\nstages:\n{stages}", encoding="utf-8")
    return path


# Two real stages: a seconds-long dataset build, then the oracle teacher on it.
TWO = f"""\
  - name: data
    run: [dataset, build, --config, {REPO}/configs/data/tiny.yaml, --out, "{{out}}/data",
          --overwrite, --no-progress]
    done_when: ["{{out}}/data/manifest.json"]
  - name: distill
    run: [distill, --teacher, oracle, --data, "{{out}}/data", --split, train,
          --out, "{{out}}/distill", --no-progress]
    done_when: ["{{out}}/distill/sft.jsonl"]
"""


def _state(out: Path, stage: str) -> dict | None:
    try:
        return json.loads((out / ".repro" / f"{stage}.json").read_text())
    except (OSError, ValueError):
        return None


def _launch(config: Path, out: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.Popen([sys.executable, "-m", "proclab", "repro", str(config), "--out",
                             str(out)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=env, text=True)


def test_sigkill_then_rerun_skips_finished_stages(tmp_path):
    config, out = _config(tmp_path, TWO), tmp_path / "run"
    proc = _launch(config, out)
    deadline = time.monotonic() + 120
    while (_state(out, "distill") or {}).get("status") != "started":
        assert proc.poll() is None, proc.stdout.read()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first = _state(out, "data")
    assert first["status"] == "done"
    assert _state(out, "distill")["status"] == "started"
    time.sleep(1.0)  # the stage process dies with the runner: nothing writes on behind it
    assert not (out / "distill" / "summary.json").exists()

    rerun = _launch(config, out)
    log, _ = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, log
    assert "[1/2] data: finished earlier" in log
    assert "[2/2] distill: proclab distill" in log
    assert _state(out, "data") == first  # not run again
    assert _state(out, "distill")["status"] == "done"
    summary = json.loads((out / "repro.json").read_text())
    assert [s["status"] for s in summary["stages"]] == ["skipped", "done"]
    assert "budget 5 min: met" in (out / "repro.md").read_text()


def test_a_changed_command_reruns_its_stage_and_the_later_ones(tmp_path, capsys):
    stages = TWO.replace("--no-progress]\n    done_when: [\"{out}/distill",
                         "--no-progress]\n    done_when: [\"{out}/distill")
    config, out = _config(tmp_path, stages), tmp_path / "run"
    assert _run(config, out, capsys)[0] == 0
    changed = _config(tmp_path, stages.replace("--split, train", "--split, train, --seed, 3"))
    code, text = _run(changed, out, capsys)
    assert code == 0
    assert "data: finished earlier" in text and "[2/2] distill: proclab distill" in text
    code, text = _run(changed, out, capsys)
    assert "distill: finished earlier" in text


def _run(config: Path, out: Path, capsys) -> tuple[int, str]:
    try:
        main(["repro", str(config), "--out", str(out)])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_a_failing_stage_exits_2_naming_it(tmp_path, capsys):
    config = _config(tmp_path, "  - name: bad\n    run: [procedures, render, no-such-procedure]\n")
    code, text = _run(config, tmp_path / "run", capsys)
    assert code == 2
    assert "stage bad failed" in text and "Traceback" not in text


def test_matrix_expansion_and_bad_configs():
    cfg = ReproConfig.model_validate({"name": "t", "stages": [
        {"name": "e_{m}_{s}", "matrix": {"m": ["a", "b"], "s": ["x"]},
         "run": ["eval", "run", "--model", "{out}/{m}", "--split", "{s}"]}]})
    stages = expand(cfg)
    assert [s.name for s in stages] == ["e_a_x", "e_b_x"]
    assert stages[1].run == ("eval", "run", "--model", "{out}/b", "--split", "x")
    dup = ReproConfig.model_validate({"name": "t", "stages": [
        {"name": "same", "matrix": {"m": ["a", "b"]}, "run": ["x", "{m}"]},
        {"name": "z", "run": ["x", "{nope}"]}]})
    with pytest.raises(ErrorList) as err:
        expand(dup)
    text = err.value.render()
    assert "two stages are named 'same'" in text and "unknown placeholder {nope}" in text


def test_unknown_reproduction_name_suggests_one(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    code, text = _run(Path("mnii"), tmp_path / "o", capsys)
    assert code == 2 and "did you mean 'mini'" in text


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_repro_configs_name_real_commands_and_files(path):
    from typer.main import get_command

    from proclab.cli import app

    config, stages = load_repro(path)
    assert config.budget_minutes is not None
    root = get_command(app)
    for stage in stages:
        group, *rest = stage.run
        assert group in root.commands, stage.name  # type: ignore[attr-defined]
        for arg in stage.run:
            if arg.startswith("configs/"):
                assert (REPO / arg).is_file(), f"{stage.name}: {arg}"


def test_config_errors_are_config_errors(tmp_path):
    bad = _config(tmp_path, "  - name: x\n    run: []\n")
    with pytest.raises((ConfigError, ErrorList)):
        load_repro(bad)


def test_interrupted_stage_resumes_when_its_checkpoint_exists_else_restarts(tmp_path, monkeypatch):
    from proclab.repro import runner

    calls: list[list[str]] = []
    outcome = {"rc": 1}

    class Done:
        def __init__(self, rc: int):
            self.returncode = rc

    def fake_run(command, preexec_fn=None):
        calls.append(command[3:])  # drop python -m proclab
        if outcome["rc"] == 0:
            (tmp_path / "run" / "train").mkdir(parents=True, exist_ok=True)
            (tmp_path / "run" / "train" / "proclab-train.json").write_text("{}")
        return Done(outcome["rc"])

    monkeypatch.setattr(runner.subprocess, "run", fake_run)
    cfg = ReproConfig.model_validate({"name": "t", "stages": [{
        "name": "train", "run": ["train", "sft", "--out", "{out}/train"],
        "done_when": ["{out}/train/proclab-train.json"],
        "resume_when": "{out}/train/checkpoint-*", "resume_args": ["--resume", "auto"],
        "restart_args": ["--set", "overwrite=true"]}]})
    out = tmp_path / "run"
    with pytest.raises(Exception, match="stage train failed"):
        runner.run_repro(cfg, expand(cfg), out, echo=lambda _: None)
    assert calls[-1] == ["train", "sft", "--out", f"{out}/train"]
    # Failed before any checkpoint: the rerun starts over.
    with pytest.raises(Exception, match="stage train failed"):
        runner.run_repro(cfg, expand(cfg), out, echo=lambda _: None)
    assert calls[-1][-2:] == ["--set", "overwrite=true"]
    # A checkpoint now exists: the rerun continues from it.
    (out / "train" / "checkpoint-5").mkdir(parents=True)
    outcome["rc"] = 0
    runner.run_repro(cfg, expand(cfg), out, echo=lambda _: None)
    assert calls[-1][-2:] == ["--resume", "auto"]
    # Finished: skipped.
    runner.run_repro(cfg, expand(cfg), out, echo=lambda _: None)
    assert len(calls) == 3
    # The command changes: start over even though checkpoints exist.
    changed = ReproConfig.model_validate({"name": "t", "stages": [
        {**cfg.stages[0].model_dump(), "run": ["train", "sft", "--out", "{out}/train", "-x"]}]})
    runner.run_repro(changed, expand(changed), out, echo=lambda _: None)
    assert calls[-1][-3:] == ["-x", "--set", "overwrite=true"]
