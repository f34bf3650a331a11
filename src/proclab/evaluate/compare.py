"""`compare_runs`: two runs on the same samples, tested with McNemar's exact test.

Only the discordant samples carry information: b = A right and B wrong, c = A wrong and B
right. Under "equal accuracy" each discordant sample is a fair coin, so the two-sided p-value is
the exact binomial test of min(b, c) successes in b + c trials at 0.5.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict
from scipy.stats import binomtest

from proclab.errors import DataError
from proclab.evaluate.logs import SAMPLES_FILE, load_results, read_samples


class Comparison(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_a: str
    run_b: str
    shared: int  # (id, order) keys both runs scored
    only_a: int
    only_b: int
    accuracy_a: float
    accuracy_b: float
    both_correct: int
    a_only_correct: int  # b
    b_only_correct: int  # c
    both_wrong: int
    p_value: float
    same_data: bool  # both runs read byte-identical data


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value for discordant counts b and c (1.0 when both are 0)."""
    if b + c == 0:
        return 1.0
    return float(binomtest(min(b, c), b + c, 0.5, alternative="two-sided").pvalue)


def _correct_by_key(run_dir: Path) -> dict[tuple[str, str], bool]:
    path = run_dir / SAMPLES_FILE
    if not path.is_file():
        raise DataError("no samples.jsonl in this run directory", where=str(run_dir),
                        fix="pass a directory written by `proclab eval run`")
    return {s.key: s.correct for s in read_samples(path)}


def compare_runs(run_a: str | Path, run_b: str | Path) -> Comparison:
    """McNemar comparison of two run directories over the (id, order) keys both scored."""
    a_dir, b_dir = Path(run_a), Path(run_b)
    a, b = _correct_by_key(a_dir), _correct_by_key(b_dir)
    shared = sorted(a.keys() & b.keys())
    if not shared:
        raise DataError(f"runs {a_dir} and {b_dir} share no scored sample",
                        fix="compare runs over the same data, split and prompt orders")
    cells = {(True, True): 0, (True, False): 0, (False, True): 0, (False, False): 0}
    for key in shared:
        cells[(a[key], b[key])] += 1
    sha_a, sha_b = _data_sha(a_dir), _data_sha(b_dir)
    same_data = sha_a is not None and sha_a == sha_b
    n = len(shared)
    return Comparison(
        run_a=str(a_dir), run_b=str(b_dir), shared=n,
        only_a=len(a.keys() - b.keys()), only_b=len(b.keys() - a.keys()),
        accuracy_a=(cells[(True, True)] + cells[(True, False)]) / n,
        accuracy_b=(cells[(True, True)] + cells[(False, True)]) / n,
        both_correct=cells[(True, True)], a_only_correct=cells[(True, False)],
        b_only_correct=cells[(False, True)], both_wrong=cells[(False, False)],
        p_value=mcnemar_exact(cells[(True, False)], cells[(False, True)]),
        same_data=same_data,
    )


def _data_sha(run_dir: Path) -> str | None:
    try:
        return load_results(run_dir).data.sha256
    except DataError:
        return None
