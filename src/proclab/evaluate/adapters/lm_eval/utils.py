"""Functions named by proclab.yaml (`!function utils.NAME`); lm-evaluation-harness loads this
file by path, so it imports proclab absolutely (install proclab in the same environment).

Data in another layout: set the maps `proclab eval run` takes in the environment, e.g.
    PROCLAB_MAP=procedure_text=rule,scenario_text=facts,label=answer \\
    PROCLAB_LABEL_MAP=Yes=COMPLIANT,No=NON-COMPLIANT lm_eval ... --tasks proclab
and `process_docs` maps every document before the prompt is built (same errors)."""

from __future__ import annotations

import json
import os
from typing import Any

from proclab.evaluate.adapters import grade, map_docs, prompt_text

MAP_ENV, LABEL_MAP_ENV = "PROCLAB_MAP", "PROCLAB_LABEL_MAP"


def process_docs(dataset: Any) -> Any:
    """The dataset unchanged (proclab's own records), or mapped by $PROCLAB_MAP and
    $PROCLAB_LABEL_MAP onto proclab's fields (a `datasets.Dataset` in, one out)."""
    field_map, label_map = os.environ.get(MAP_ENV), os.environ.get(LABEL_MAP_ENV)
    if not field_map and not label_map:
        return dataset
    docs = map_docs(list(dataset), field_map=field_map or None, label_map=label_map or None,
                    where="lm_eval dataset")
    rows = [{k: v for k, v in d.items() if k != "meta"} | {"meta": json.dumps(d["meta"], default=str)}
            for d in docs]
    return type(dataset).from_list(rows)


def doc_to_text(doc: dict[str, Any]) -> str:
    """The reference prompt (Procedure, Scenario, Question); use --apply_chat_template."""
    return prompt_text(doc)


def doc_to_target(doc: dict[str, Any]) -> str:
    return str(doc["label"])


def process_results(doc: dict[str, Any], results: list[str]) -> dict[str, float]:
    """Score the one generation with proclab's grader: acc and parse_rate per document."""
    return grade(results[0] if results else None, doc["label"])
