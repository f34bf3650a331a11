"""Small hand-made inputs for evaluation tests: dataset records built from real corpus
procedures (labels from the checker), sample-log lines, and a fake evaluator."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

from proclab.dataset.records import Instance
from proclab.evaluate.logs import SampleLog
from proclab.infer.base import Generation, GenerationConfig, Message
from proclab.procedures.canonical import canonical_trace
from proclab.procedures.checker import check
from proclab.procedures.corpus import get_procedure
from proclab.procedures.trace import COMPLIANT, NON_COMPLIANT, Trace

PROCEDURES = (
    "lab-minor-chemical-spill",
    "lab-ppe-donning",
    "fda-travel-claim-filing",
    "cms-claim-hold-release",
)
STYLES = ("terse_numbered", "checklist")


def _drop_first_observable(proc, trace: Trace) -> Trace:
    for k, event in enumerate(trace.events):
        step = proc.step_index()[event.step]
        if step.is_observable:
            return Trace(events=trace.events[:k] + trace.events[k + 1 :])
    raise AssertionError(f"{proc.id}: no observable step")


def make_record(proc_id: str, *, compliant: bool, k: int, split: str = "test",
                pair_id: str | None = None, pair_role: str | None = None,
                rid: str | None = None) -> Instance:
    """A record of `proc_id` whose trace is canonical (compliant) or misses one step."""
    proc = get_procedure(proc_id)
    trace = canonical_trace(proc)
    if not compliant:
        trace = _drop_first_observable(proc, trace)
    verdict = check(proc, trace).verdict
    assert (verdict == COMPLIANT) == compliant
    steps = ", then ".join(f"step {e.step} by the {e.actor}" for e in trace.events)
    return Instance(
        id=rid or f"{proc_id}-{'c' if compliant else 'n'}-{k}",
        procedure_id=proc_id, domain=proc.domain, source=STYLES[k % 2], cohort="handmade",
        split=split, perturbation="baseline_compliant" if compliant else "baseline_noncompliant",
        label=verdict, procedure_text="\n".join(f"{s.id}. {s.text}" for s in proc.all_steps()),
        scenario_text=f"Case {k}: {steps}.", violations=list(check(proc, trace).violations),
        pair_id=pair_id, pair_role=pair_role, meta={}, trace=list(trace.events),
        context=proc.default_context(),
    )


def make_records(per_label: int = 2, procedures: Sequence[str] = PROCEDURES) -> list[Instance]:
    return [make_record(p, compliant=c, k=k) for p in procedures for k in range(per_label)
            for c in (True, False)]


def write_records(path: Path, records: Sequence[Instance]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r.to_row()) + "\n" for r in records), encoding="utf-8")
    return path


def sample(rid: str, gold: str, parsed: str | None, *, proc: str = "p1", order: str = "PSQ",
           perturbation: str = "baseline_compliant", source: str = "s1", domain: str = "d1",
           pair_id: str | None = None, pair_role: str | None = None) -> SampleLog:
    return SampleLog(
        id=rid, order=order, prompt_sha256="0" * 64, output=str(parsed), parsed=parsed,  # type: ignore[arg-type]
        gold=gold, correct=parsed == gold, latency_s=0.0, procedure_id=proc,  # type: ignore[arg-type]
        perturbation=perturbation, source=source, domain=domain, pair_id=pair_id,
        pair_role=pair_role,
    )


C, N = COMPLIANT, NON_COMPLIANT


class FakeEvaluator:
    """Answers with `respond(record, prompt_text)`; records every id it was asked about."""

    name = "fake"

    def __init__(self, respond: Callable[[Instance, str], str] | None = None):
        self.respond = respond or (lambda rec, _: f"Final answer: {rec.label}")
        self.info = {"kind": "fake"}
        self.calls: list[str] = []
        self.configs: list[GenerationConfig] = []

    def answer(self, records: Sequence[Instance], prompts: Sequence[list[Message]],
               config: GenerationConfig) -> list[Generation]:
        self.calls += [r.id for r in records]
        self.configs.append(config)
        return [Generation(text=self.respond(r, p[0]["content"]))
                for r, p in zip(records, prompts, strict=True)]


def make_pairs(split: str, procedures: Sequence[str] = PROCEDURES[:2]) -> list[Instance]:
    """Per procedure: a flip pair (C base, N flip) and a preserve pair (C base, C preserve)."""
    out = []
    for p in procedures:
        flip, keep = f"{split}-{p}-flip", f"{split}-{p}-keep"
        out += [
            make_record(p, compliant=True, k=10, split=split, pair_id=flip, pair_role="base",
                        rid=f"{flip}.0"),
            make_record(p, compliant=False, k=10, split=split, pair_id=flip, pair_role="flip",
                        rid=f"{flip}.1"),
            make_record(p, compliant=True, k=20, split=split, pair_id=keep, pair_role="base",
                        rid=f"{keep}.0"),
            make_record(p, compliant=True, k=21, split=split, pair_id=keep,
                        pair_role="preserve", rid=f"{keep}.1"),
        ]
    return out


def make_dataset_dir(root: Path) -> Path:
    """A built-dataset-shaped directory: test / train splits, pairs.jsonl and the surface
    probe fitted on train (whose majority label is NON-COMPLIANT)."""
    from proclab.dataset.probes import fit_surface_probe

    test = make_records(per_label=2)
    train = [make_record(p, compliant=c, k=k, split="train") for p in PROCEDURES
             for c, ks in ((True, (5,)), (False, (5, 6))) for k in ks]
    write_records(root / "test.jsonl", test)
    write_records(root / "train.jsonl", train)
    write_records(root / "pairs.jsonl", make_pairs("test") + make_pairs("train"))
    fit_surface_probe(train).save(root / "probes" / "surface.pkl")
    return root
