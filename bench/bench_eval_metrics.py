"""Evaluation-metrics benchmark (goal: all metrics over 100k logged samples in <= 5 s).

    .venv/bin/python bench/bench_eval_metrics.py                  # print + write the results
    .venv/bin/python bench/bench_eval_metrics.py --samples 20000 --no-record

A synthetic but realistically shaped log (49 procedures, ten perturbations, ten sources, three
domains, two prompt orders, a fifth of the records in counterfactual pairs, ~70% accuracy, 5%
unparsed) is written as `samples.jsonl`; timed are reading it back and `analyze` (every metric
with its 1000-resample procedure-clustered bootstrap, grid, pairs, orders). The named baseline
is the plain bootstrap: per resample, gather the rows of the drawn procedures and score them
with scikit-learn; it is timed on a few resamples and scaled to the same 1000.
Results go to `bench/RESULTS-eval.md` (merged into docs/benchmarks.md by the lead).
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
import warnings
from datetime import date
from pathlib import Path

import numpy as np

from proclab.evaluate.analysis import analyze
from proclab.evaluate.logs import SampleLog, SampleWriter, read_samples
from proclab.evaluate.table import SampleTable

ROOT = Path(__file__).resolve().parents[1]
GOAL_S = 5.0
PERTURBATIONS = [f"perturbation_{k}" for k in range(10)]
SOURCES = [f"style_{k}" for k in range(10)]
DOMAINS = ["lab_safety", "fda", "cms"]
ORDERS = ["PSQ", "SPQ"]
LABELS = ["COMPLIANT", "NON-COMPLIANT"]


def synthetic_log(n_samples: int, seed: int = 0) -> list[SampleLog]:
    """`n_samples` log lines: n/2 records x two orders, with pairs of (base, flip|preserve)."""
    rng = np.random.default_rng(seed)
    n_records = n_samples // len(ORDERS)
    proc = rng.integers(0, 49, n_records)
    gold = rng.integers(0, 2, n_records)
    in_pair = np.arange(n_records) < n_records // 5  # the first fifth, as consecutive pairs
    out: list[SampleLog] = []
    for order in ORDERS:
        right = rng.random(n_records) < 0.7
        unparsed = rng.random(n_records) < 0.05
        for i in range(n_records):
            pair = f"pair-{i // 2}" if in_pair[i] else None
            role = (("base", "flip" if (i // 2) % 2 else "preserve")[i % 2]) if pair else None
            answer = None if unparsed[i] else LABELS[gold[i] if right[i] else 1 - gold[i]]
            out.append(SampleLog(
                id=f"rec-{i}", order=order, prompt_sha256="0" * 64, output=str(answer),
                parsed=answer, gold=LABELS[gold[i]], correct=answer == LABELS[gold[i]],  # type: ignore[arg-type]
                latency_s=0.01, procedure_id=f"proc-{proc[i]}",
                perturbation=PERTURBATIONS[i % 10], source=SOURCES[(i // 10) % 10],
                domain=DOMAINS[proc[i] % 3], pair_id=pair, pair_role=role,
            ))
    return out


def naive_bootstrap_s(samples: list[SampleLog], resamples: int, seed: int = 0) -> float:
    """Seconds per resample of the loop-and-sklearn bootstrap (the baseline)."""
    from sklearn.metrics import balanced_accuracy_score, f1_score, matthews_corrcoef

    table = SampleTable.from_samples(samples)
    names, cluster = table.clusters()
    rows_of = [np.flatnonzero(cluster == k) for k in range(len(names))]
    gold = np.array(LABELS)[table.gold]
    pred = np.array([*LABELS, "unparsed"])[table.pred]
    rng = np.random.default_rng(seed)
    warnings.simplefilter("ignore")  # sklearn warns that "unparsed" is not a gold class
    start = time.perf_counter()
    for _ in range(resamples):
        idx = np.concatenate([rows_of[k] for k in rng.integers(0, len(names), len(names))])
        g, p = gold[idx], pred[idx]
        np.mean(g == p)
        balanced_accuracy_score(g, p)
        f1_score(g, p, labels=LABELS, average="macro")
        matthews_corrcoef(g, p)
        np.mean(p != "unparsed")
    return (time.perf_counter() - start) / resamples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--baseline-resamples", type=int, default=5)
    parser.add_argument("--no-record", action="store_true", help="Do not write the results.")
    args = parser.parse_args()

    samples = synthetic_log(args.samples)
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "samples.jsonl"
        with SampleWriter(log) as writer:
            writer.write(samples)
        start = time.perf_counter()
        loaded = read_samples(log)
        read_s = time.perf_counter() - start
    start = time.perf_counter()
    result = analyze(loaded, ORDERS, resamples=args.resamples, seed=0)
    analyze_s = time.perf_counter() - start
    per_resample = naive_bootstrap_s(loaded, args.baseline_resamples)
    naive_s = per_resample * args.resamples
    total = read_s + analyze_s
    lines = [
        f"# Evaluation metrics benchmark ({date.today().isoformat()})",
        "",
        f"Machine: {platform.platform()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}. Command: `.venv/bin/python bench/bench_eval_metrics.py`.",
        "",
        f"{len(loaded)} logged samples, {args.resamples} procedure-clustered bootstrap resamples.",
        "",
        "| step | seconds |",
        "|---|---|",
        f"| read samples.jsonl (pydantic per line) | {read_s:.2f} |",
        f"| analyze: 7 metrics + CIs, grid, pairs, orders | {analyze_s:.2f} |",
        f"| **total** (goal <= {GOAL_S:.0f} s) | **{total:.2f}** |",
        f"| baseline: loop + scikit-learn bootstrap, scaled from {args.baseline_resamples} "
        f"resamples | {naive_s:.1f} |",
        "",
        f"Vectorised bootstrap vs the loop baseline: {naive_s / analyze_s:.0f}x faster "
        f"(analyze only). Goal {'met' if total <= GOAL_S else 'NOT met'}. "
        f"Accuracy in the synthetic log: {result.metrics['accuracy'].value:.3f}.",
        "",
    ]
    report = "\n".join(lines)
    print(report)
    if not args.no_record:
        (ROOT / "bench" / "RESULTS-eval.md").write_text(report, encoding="utf-8")


if __name__ == "__main__":
    main()
