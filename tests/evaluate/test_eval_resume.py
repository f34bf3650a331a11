"""Resume after a real interruption: a subprocess is killed (SIGKILL) or interrupted (SIGINT,
i.e. Ctrl-C) mid-run; the log must hold only whole lines and a rerun must answer exactly the
samples that are missing."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.evaluate.eval_fakes import make_records, write_records

from proclab.evaluate.logs import SAMPLES_FILE, load_results, read_samples

SCRIPT = Path(__file__).with_name("slow_eval.py")
N_RECORDS = 16  # 8 batches of 2


def _start(mode: str, data: Path, out: Path, calls: Path, delay: float) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), mode, str(data), str(out), str(calls), str(delay)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _wait_for_lines(proc: subprocess.Popen, log: Path, n: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.is_file() and log.read_bytes().count(b"\n") >= n:
            return
        if proc.poll() is not None:
            pytest.fail(f"the run ended before it could be interrupted: {proc.stderr.read()}")
        time.sleep(0.02)
    proc.kill()
    pytest.fail("the run logged nothing in time")


def _ids(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split() if path.is_file() else []


@pytest.mark.parametrize(("mode", "sig"), [("lib", signal.SIGKILL), ("cli", signal.SIGINT)])
def test_interrupted_run_resumes_without_rescoring(tmp_path, mode, sig):
    data = write_records(tmp_path / "data.jsonl", make_records())
    out, log = tmp_path / "run", tmp_path / "run" / SAMPLES_FILE
    first_calls, second_calls = tmp_path / "calls1.txt", tmp_path / "calls2.txt"

    proc = _start(mode, data, out, first_calls, delay=1.0)  # 8 s of batches: time to interrupt
    _wait_for_lines(proc, log, 2)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    if sig == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL
    else:
        assert proc.returncode == 130, stderr
        assert "rerun the same command to resume" in stderr

    assert log.read_bytes().endswith(b"\n")  # whole lines only
    logged = {s.id for s in read_samples(log)}
    assert 2 <= len(logged) < N_RECORDS
    assert not (out / "results.json").exists()

    rerun = _start(mode, data, out, second_calls, delay=0.0)
    _, stderr = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, stderr
    answered_again = _ids(second_calls)
    assert set(answered_again).isdisjoint(logged)  # nothing scored twice
    assert len(answered_again) == N_RECORDS - len(logged)
    keys = [s.key for s in read_samples(log)]
    assert len(keys) == len(set(keys)) == N_RECORDS
    results = load_results(out)
    assert results.complete and results.n == N_RECORDS
    assert results.metrics["accuracy"].value == 1.0
