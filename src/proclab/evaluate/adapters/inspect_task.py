"""proclab as an Inspect AI task (Inspect is optional: `pip install inspect-ai`).

    inspect eval src/proclab/evaluate/adapters/inspect_task.py \\
        -T data=DATA/heldout_procedures.jsonl -T order=PSQ --model openai/gpt-4o-mini

Data in another layout takes the maps of `proclab eval run` (same readers, same errors):

    inspect eval src/proclab/evaluate/adapters/inspect_task.py -T data=cases.csv \\
        -T map=procedure_text=rule,scenario_text=facts,label=answer,group_id=rule_id \\
        -T label_map=Yes=COMPLIANT,No=NON-COMPLIANT --model openai/gpt-4o-mini

One sample per record (the reference prompt as the single user message, the gold label as the
target); the scorer is proclab's own grader, so a verdict counts exactly as in `proclab eval`.
The procedure id, perturbation, source and domain (or, for mapped data, the file's other
columns) ride along as sample metadata.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from proclab.errors import ProclabError
from proclab.evaluate.adapters import STRUCTURE_FIELDS, load_records, prompt_text
from proclab.prompts import REFERENCE_ORDER, parse_verdict

METADATA_FIELDS = STRUCTURE_FIELDS


def record_to_sample_fields(record: Mapping[str, Any],
                            order: str = REFERENCE_ORDER) -> dict[str, Any]:
    """Keyword arguments of `inspect_ai.dataset.Sample` for one proclab record."""
    extra = record.get("meta")  # a mapped file's other columns (a proclab row's meta is a string)
    return {
        "id": record["id"],
        "input": prompt_text(record, order),
        "target": record["label"],
        "metadata": {**{k: record.get(k) for k in METADATA_FIELDS},
                     "group_id": record.get("group_id"),
                     **(extra if isinstance(extra, Mapping) else {})},
    }


try:  # Inspect is an optional extra; this module must import without it.
    from inspect_ai import Task, task
    from inspect_ai.dataset import MemoryDataset, Sample
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
    def proclab(data: str, order: str = REFERENCE_ORDER, split: str | None = None,
                map: str | None = None, label_map: str | None = None) -> Task:
        """The proclab benchmark from a dataset directory or file (optionally one `split`);
        `map` / `label_map` as `proclab eval run --map / --label-map` take them."""
        records = load_records(data, split=split, field_map=map, label_map=label_map)
        dataset = MemoryDataset([Sample(**record_to_sample_fields(r, order)) for r in records],
                                name=str(data))
        return Task(dataset=dataset, solver=generate(), scorer=proclab_verdict())

else:

    def proclab(data: str, order: str = REFERENCE_ORDER, split: str | None = None,
                map: str | None = None, label_map: str | None = None) -> Any:
        """Stand-in that explains how to get Inspect when it is not installed."""
        raise ProclabError("the Inspect task needs the inspect-ai package",
                           fix="pip install inspect-ai, then run `inspect eval` on this file")
