"""Run proclab's benchmark inside other harnesses: an Inspect AI task (`inspect_task.py`) and
an lm-evaluation-harness task (`lm_eval/proclab.yaml` + `lm_eval/utils.py`). Both read the
dataset's JSONL records and score with proclab's one grader (`proclab.prompts.parse_verdict`).
See docs/evaluation.md, "Adapters".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from proclab.prompts import REFERENCE_ORDER, build_user_message, parse_verdict


def prompt_text(record: Mapping[str, Any], order: str = REFERENCE_ORDER) -> str:
    """The user message proclab's own runner sends for `record` (blocks in `order`)."""
    return build_user_message(record["procedure_text"], record["scenario_text"],
                              record["question"], order=order)


def grade(output: str | None, label: str) -> dict[str, float]:
    """Per-sample scores: `acc` (parsed verdict == gold label) and `parse_rate`."""
    parsed = parse_verdict(output)
    return {"acc": float(parsed == label), "parse_rate": float(parsed is not None)}
