"""A deliberately slow evaluation, run as a real subprocess by test_eval_resume.py so it can be
killed mid-run. Usage: python slow_eval.py {lib|cli} DATA OUT CALLS DELAY_S

Every id the evaluator is asked about is appended to CALLS (one per line) before it sleeps
DELAY_S, so the test can tell which samples each process answered.
"""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

from proclab.evaluate.config import make_config
from proclab.evaluate.evaluators import EVALUATORS
from proclab.evaluate.runner import run_eval
from proclab.infer.base import Generation


class SlowEvaluator:
    name = "slow"

    def __init__(self, calls: Path, delay: float):
        self.calls, self.delay, self.info = calls, delay, {"kind": "slow"}

    def answer(self, records, prompts, config):
        with self.calls.open("a", encoding="utf-8") as fh:
            fh.write("".join(f"{r.id}\n" for r in records))
        time.sleep(self.delay)
        return [Generation(text=f"Final answer: {r.label}") for r in records]


def main() -> None:
    # Ctrl-C as a terminal delivers it, whatever SIGINT disposition this process inherited:
    # two fresh-clone CI runs saw the interrupted run finish with exit 0, warm reruns never.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    mode, data, out, calls, delay = sys.argv[1:6]
    evaluator = SlowEvaluator(Path(calls), float(delay))
    if mode == "lib":
        run_eval(make_config(backend="slow", data=data, batch_size=2), out, evaluator=evaluator)
        return
    EVALUATORS["slow"] = lambda config, data: evaluator  # test-only registration
    from proclab.cli import main as cli_main

    cli_main(["eval", "run", "--backend", "slow", "--data", data, "--out", out,
              "--batch-size", "2", "--no-progress"])


if __name__ == "__main__":
    main()
