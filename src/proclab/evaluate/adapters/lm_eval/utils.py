"""Functions named by proclab.yaml (`!function utils.NAME`); lm-evaluation-harness loads this
file by path, so it imports proclab absolutely (install proclab in the same environment)."""

from __future__ import annotations

from typing import Any

from proclab.evaluate.adapters import grade, prompt_text


def doc_to_text(doc: dict[str, Any]) -> str:
    """The reference prompt (Procedure, Scenario, Question); use --apply_chat_template."""
    return prompt_text(doc)


def doc_to_target(doc: dict[str, Any]) -> str:
    return str(doc["label"])


def process_results(doc: dict[str, Any], results: list[str]) -> dict[str, float]:
    """Score the one generation with proclab's grader: acc and parse_rate per document."""
    return grade(results[0] if results else None, doc["label"])
