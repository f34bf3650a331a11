"""Data-parallel evaluation: ranks split the samples by a stable hash, each logs its own share,
one merged log comes out in single-process order, and an interrupted sharded run resumes
exactly (its shard logs are folded in first). The launch itself runs the hf backend on the
tiny model under `accelerate launch` with 2 CPU processes."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from tests.evaluate.eval_fakes import FakeEvaluator, make_records, write_records

from proclab.errors import ConfigError
from proclab.evaluate.config import make_config
from proclab.evaluate.logs import SAMPLES_FILE, SampleWriter, read_samples
from proclab.evaluate.runner import run_eval
from proclab.evaluate.shard import Shard, merge_shards, owner

REPO = Path(__file__).resolve().parents[2]


def _lines(run: Path) -> list[dict]:
    """The log without its timings (latency differs between any two runs)."""
    return [{k: v for k, v in s.model_dump().items() if k != "latency_s"}
            for s in read_samples(run / SAMPLES_FILE)]


def test_owner_is_stable_and_splits_evenly():
    keys = [(f"r{i}", order) for i in range(400) for order in ("PSQ", "SPQ")]
    ranks = [owner(k, 4) for k in keys]
    assert ranks == [owner(k, 4) for k in keys]
    assert all(150 < ranks.count(r) < 250 for r in range(4))
    assert Shard(1, 4).owns(keys[ranks.index(1)]) and not Shard(0, 4).owns(keys[ranks.index(1)])


def test_an_interrupted_sharded_run_resumes_exactly(tmp_path):
    data = write_records(tmp_path / "data.jsonl", make_records(per_label=3))
    config = make_config(data=str(data), backend="fake", orders=["PSQ", "QSP"], resamples=50)
    fresh = run_eval(config, tmp_path / "fresh", evaluator=FakeEvaluator())
    # A 2-process run killed midway: run.json written, each rank's log holds part of its share.
    run = tmp_path / "killed"
    run.mkdir()
    shutil.copy(tmp_path / "fresh" / "run.json", run / "run.json")
    samples = read_samples(tmp_path / "fresh" / SAMPLES_FILE)
    for rank in (0, 1):
        share = [s for s in samples if owner(s.key, 2) == rank]
        with SampleWriter(run / f"samples.rank{rank}.jsonl") as writer:
            writer.write(share[: len(share) // 2])
    (run / "samples.rank1.jsonl").open("a").write('{"id": "cut sho')  # killed mid-write
    again = FakeEvaluator()
    resumed = run_eval(config, run, evaluator=again)
    assert len(again.calls) == len(samples) - sum(len(s) // 2 for s in (
        [x for x in samples if owner(x.key, 2) == r] for r in (0, 1)))
    assert not list(run.glob("samples.rank*.jsonl"))
    assert sorted(map(json.dumps, _lines(run))) == sorted(map(json.dumps, _lines(tmp_path / "fresh")))
    assert resumed.results.metrics == fresh.results.metrics


def test_merge_puts_samples_in_single_process_order(tmp_path):
    data = write_records(tmp_path / "data.jsonl", make_records(per_label=2))
    config = make_config(data=str(data), backend="fake", orders=["PSQ"], resamples=0)
    run_eval(config, tmp_path / "one", evaluator=FakeEvaluator())
    samples = read_samples(tmp_path / "one" / SAMPLES_FILE)
    out = tmp_path / "merged"
    out.mkdir()
    for rank in (0, 1, 2):
        with SampleWriter(out / f"samples.rank{rank}.jsonl") as writer:
            writer.write(s for s in reversed(samples) if owner(s.key, 3) == rank)
    assert merge_shards(out, [s.key for s in samples]) == len(samples)
    assert [s.key for s in read_samples(out / SAMPLES_FILE)] == [s.key for s in samples]
    assert merge_shards(out, [s.key for s in samples]) == 0


@pytest.mark.slow
def test_two_process_hf_evaluation_equals_one_process(tmp_path, tiny_model_dir):
    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent))
    if accelerate is None:
        pytest.skip("the accelerate launcher is not installed")
    data = write_records(tmp_path / "data.jsonl", make_records(per_label=2))
    args = ["eval", "run", "--backend", "hf", "--model", str(tiny_model_dir), "--data", str(data),
            "--orders", "PSQ,SQP", "--max-new-tokens", "6", "--batch-size", "1",
            "--resamples", "50", "--no-progress"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)]),
           "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "ACCELERATE_USE_CPU": "1"}
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    launch = [accelerate, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
              "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port",
              str(port), "-m", "proclab.cli", *args, "--out", str(tmp_path / "two")]
    done = subprocess.run(launch, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    assert done.stdout.count("balanced_accuracy") == 1  # rank 0 alone reports
    assert "32 samples scored now, 0 from the log" in " ".join(done.stdout.split())
    single = subprocess.run([sys.executable, "-m", "proclab.cli", *args, "--out",
                             str(tmp_path / "one")], env=env, capture_output=True, text=True,
                            timeout=600)
    assert single.returncode == 0, single.stderr[-4000:]
    assert _lines(tmp_path / "two") == _lines(tmp_path / "one")
    assert not list((tmp_path / "two").glob("samples.rank*.jsonl"))
    two = json.loads((tmp_path / "two" / "results.json").read_text())
    one = json.loads((tmp_path / "one" / "results.json").read_text())
    assert two["metrics"] == one["metrics"] and two["n"] == one["n"] == 32


def test_overwrite_drops_unmerged_shard_logs_of_another_run(tmp_path):
    data = write_records(tmp_path / "data.jsonl", make_records(per_label=1))
    first = make_config(data=str(data), backend="fake", orders=["PSQ"], resamples=0)
    run_eval(first, tmp_path / "r", evaluator=FakeEvaluator())
    samples = read_samples(tmp_path / "r" / SAMPLES_FILE)
    (tmp_path / "r" / SAMPLES_FILE).unlink()
    with SampleWriter(tmp_path / "r" / "samples.rank0.jsonl") as writer:
        writer.write(samples)  # a killed data-parallel run of the first config
    other = make_config(data=str(data), backend="fake", orders=["SPQ"], resamples=0,
                        max_new_tokens=64)
    with pytest.raises(ConfigError, match="another config"):
        run_eval(other, tmp_path / "r", evaluator=FakeEvaluator())
    run_eval(other, tmp_path / "r", overwrite=True, evaluator=FakeEvaluator())
    assert {s.order for s in read_samples(tmp_path / "r" / SAMPLES_FILE)} == {"SPQ"}
