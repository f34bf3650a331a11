"""proclab as an Inspect AI task (Inspect is optional: `pip install inspect-ai`).

    inspect eval src/proclab/evaluate/adapters/inspect_task.py \\
        -T data=DATA/heldout_procedures.jsonl -T order=PSQ --model openai/gpt-4o-mini

One sample per record (the reference prompt as the single user message, the gold label as the
target); the scorer is proclab's own grader, so a verdict counts exactly as in `proclab eval`.
The procedure id, perturbation, source and domain ride along as sample metadata.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from proclab.errors import ProclabError
from proclab.evaluate.adapters import prompt_text
from proclab.prompts import REFERENCE_ORDER, parse_verdict

METADATA_FIELDS = ("procedure_id", "perturbation", "source", "domain", "split", "pair_id",
                   "pair_role")


def record_to_sample_fields(record: Mapping[str, Any],
                            order: str = REFERENCE_ORDER) -> dict[str, Any]:
    """Keyword arguments of `inspect_ai.dataset.Sample` for one proclab record."""
    return {
        "id": record["id"],
        "input": prompt_text(record, order),
        "target": record["label"],
        "metadata": {k: record.get(k) for k in METADATA_FIELDS},
    }


try:  # Inspect is an optional extra; this module must import without it.
    from inspect_ai import Task, task
    from inspect_ai.dataset import Sample, json_dataset
    from inspect_ai.scorer import CORRECT, INCORRECT, Score, Target, accuracy, scorer, stderr
    from inspect_ai.solver import TaskState, generate

    HAVE_INSPECT = True
except ImportError:
    HAVE_INSPECT = False

if HAVE_INSPECT:

    @scorer(metrics=[accuracy(), stderr()])
    def proclab_verdict():
        """Correct when proclab's parser finds the gold verdict as the last one stated."""

        async def score(state: TaskState, target: Target) -> Score:
            parsed = parse_verdict(state.output.completion)
            return Score(
                value=CORRECT if parsed == target.text else INCORRECT,
                answer=parsed or "unparsed",
                explanation=state.output.completion,
            )

        return score

    @task
    def proclab(data: str, order: str = REFERENCE_ORDER, split: str | None = None) -> Task:
        """The proclab benchmark from a JSONL file of records (optionally one `split`)."""
        dataset = json_dataset(data, sample_fields=lambda r: Sample(
            **record_to_sample_fields(r, order)))
        if split is not None:
            dataset = dataset.filter(lambda s: (s.metadata or {}).get("split") == split)
        return Task(dataset=dataset, solver=generate(), scorer=proclab_verdict())

else:

    def proclab(data: str, order: str = REFERENCE_ORDER, split: str | None = None) -> Any:
        """Stand-in that explains how to get Inspect when it is not installed."""
        raise ProclabError("the Inspect task needs the inspect-ai package",
                           fix="pip install inspect-ai, then run `inspect eval` on this file")
