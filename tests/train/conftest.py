"""Fixtures for the training tests: records of the small test procedure (labels from the
checker) with short scaffolded SFT rows of the distilled shape, real oracle-distilled rows of
the shortest corpus procedure, and the tiny local chat model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from proclab.dataset.records import QUESTION, Instance, write_jsonl
from proclab.procedures.canonical import canonical_trace
from proclab.procedures.checker import check, resolve_context
from proclab.procedures.schema import Procedure
from proclab.procedures.styles import render
from proclab.procedures.trace import Event, Trace
from proclab.prompts import build_messages

# The oracle teacher only knows corpus procedures; this one renders shortest.
SHORTEST = "lab-minor-chemical-spill"


def compact(procedure: Procedure) -> str:
    """One line per step: a short procedure text keeps the CPU training tests fast."""
    return "\n".join(f"{s.id}. {s.text} ({s.actor})" for s in procedure.all_steps())


def make_records(procedure: Procedure, split: str, *, short: bool = False) -> list[Instance]:
    """The canonical trace (COMPLIANT) and each observable step dropped (NON-COMPLIANT)."""
    base = list(canonical_trace(procedure).events)
    observable = {s.id for s in procedure.all_steps() if s.is_observable}
    variants: list[tuple[str, list[Event]]] = [("baseline_compliant", base)]
    variants += [("baseline_noncompliant", base[:i] + base[i + 1:])
                 for i, e in enumerate(base) if e.step in observable]
    ctx = resolve_context(procedure, {})
    records = []
    for n, (kind, events) in enumerate(variants):
        result = check(procedure, Trace(events=events), ctx)
        scenario = " ".join(f"The {e.actor} did step {e.step}." for e in events)
        records.append(Instance(
            id=f"{split}-{n}", procedure_id=procedure.id, domain=procedure.domain,
            source="terse_numbered", cohort="train_test", split=split, perturbation=kind,
            label=result.verdict,
            procedure_text=compact(procedure) if short else render(procedure, "terse_numbered"),
            scenario_text=scenario, question=QUESTION, violations=result.violations, meta={},
            trace=events, context=ctx,
        ))
    return records


def sft_row(record: Instance) -> dict:
    """A short scaffolded trace for `record`, shaped like a `proclab distill` row."""
    steps = [f"[SIG=RECALL] The scenario reports {len(record.trace)} events."]
    steps += [f"[SIG=REASONING] Step {v.step} fails: {v.type}." for v in record.violations[:2]]
    if not record.violations:
        steps.append("[SIG=REASONING] Every required step happened in order.")
    steps.append(f"[SIG=RESPONSE] Final answer: {record.label}")
    answer = "\n\n".join(steps)
    return {"id": f"{record.id}.s0", "record_id": record.id, "teacher": "test",
            "messages": [build_messages(record.model_dump())[0],
                         {"role": "assistant", "content": answer}],
            "signals": [s.split("]")[0][5:] for s in steps], "perturbation": record.perturbation,
            "label": record.label, "sample_index": 0}


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory, mini) -> Path:
    """`train.jsonl` / `heldout.jsonl` records and `sft.jsonl` / `eval-sft.jsonl` rows."""
    out = tmp_path_factory.mktemp("train-data")
    train = make_records(mini, "train", short=True)
    heldout = make_records(mini, "heldout", short=True)[:4]
    write_jsonl(out / "train.jsonl", train)
    write_jsonl(out / "heldout.jsonl", heldout)
    write_rows(out / "sft.jsonl", [sft_row(r) for r in train])
    write_rows(out / "eval-sft.jsonl", [sft_row(r) for r in heldout])
    return out


@pytest.fixture(scope="session")
def distilled_dir(tmp_path_factory) -> Path:
    """Records of the shortest corpus procedure and their oracle-distilled `sft.jsonl`."""
    from proclab.procedures.corpus import get_procedure
    from proclab.teacher.distill import DistillConfig, distill, write_outputs

    out = tmp_path_factory.mktemp("distilled")
    records = make_records(get_procedure(SHORTEST), "train")[:4]
    write_jsonl(out / "train.jsonl", records)
    write_jsonl(out / "heldout.jsonl", [r.model_copy(update={"split": "heldout"})
                                         for r in records[:2]])
    write_outputs(distill(DistillConfig(data=out, out=out, teacher="oracle")))
    return out


@pytest.fixture(scope="session")
def tiny_model() -> Path:
    from proclab.models.tiny import tiny_model_path

    return tiny_model_path()
