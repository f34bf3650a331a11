"""Reference baselines that need no model: they answer in the reference format
("Final answer: X") so the one grader in `proclab.prompts` scores them like any model.

- `oracle`: the checker on the record's structured trace and context (the upper bound).
- `majority`: the most frequent training label (train.jsonl of the dataset directory; without
  one, the evaluated records' own labels -- recorded in the results as `fitted_on`).
- `surface`: the dataset stage's scenario-only shortcut probe (`probes/surface.pkl`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from proclab.errors import ConfigError, DataError
from proclab.evaluate.data import SURFACE_PROBE, EvalData
from proclab.evaluate.records import EvalRecord
from proclab.infer.base import Generation, GenerationConfig, Message
from proclab.procedures.checker import check
from proclab.procedures.corpus import get_procedure
from proclab.procedures.schema import Procedure
from proclab.procedures.trace import Trace, Verdict
from proclab.prompts import final_answer_line

if TYPE_CHECKING:  # scikit-learn takes seconds to import; only the surface baseline needs it
    from proclab.dataset.probes import SurfaceProbe


def _answers(verdicts: Iterable[Verdict]) -> list[Generation]:
    return [Generation(text=final_answer_line(v)) for v in verdicts]


class OracleBaseline:
    """The checker's verdict on each record's `trace` and `context`."""

    name = "oracle"

    def __init__(self, resolve: Callable[[str], Procedure] = get_procedure):
        self._resolve = resolve
        self.info: dict[str, Any] = {"answers_from": "checker on the structured trace"}

    def answer(self, records: Sequence[EvalRecord], prompts: Sequence[list[Message]],
               config: GenerationConfig) -> list[Generation]:
        out = []
        for r in records:
            rec = r.instance
            if rec is None:
                raise ConfigError("the oracle baseline needs proclab's structured records "
                                  f"(trace and context); record {r.id!r} was mapped from "
                                  "another layout", fix="evaluate a model, or the majority "
                                  "baseline, on this data")
            out.append(check(self._resolve(rec.procedure_id), Trace(events=list(rec.trace)),
                             rec.context).verdict)
        return _answers(out)


def majority_label(labels: Iterable[str]) -> Verdict:
    """The most frequent label; ties go to the alphabetically first (COMPLIANT)."""
    counts = Counter(labels)
    if not counts:
        raise DataError("the majority baseline needs labelled records")
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]  # type: ignore[return-value]


class MajorityBaseline:
    """Always the majority label."""

    name = "majority"

    def __init__(self, label: Verdict, fitted_on: str):
        self.label = label
        self.info: dict[str, Any] = {"label": label, "fitted_on": fitted_on}

    @classmethod
    def from_data(cls, data: EvalData) -> MajorityBaseline:
        train = data.train_labels()
        if train is not None:
            return cls(majority_label(train[0]), fitted_on=train[1])
        return cls(majority_label(r.label for r in data.records), fitted_on="evaluated records")

    def answer(self, records: Sequence[EvalRecord], prompts: Sequence[list[Message]],
               config: GenerationConfig) -> list[Generation]:
        return _answers(self.label for _ in records)


class SurfaceBaseline:
    """The scenario-only bag-of-words probe fitted on the train split by `dataset build`."""

    name = "surface"

    def __init__(self, probe: SurfaceProbe, path: Path):
        self.probe = probe
        self.info: dict[str, Any] = {"probe": path.name}

    @classmethod
    def from_data(cls, data: EvalData, probe: str | None = None) -> SurfaceBaseline:
        from proclab.dataset.probes import SurfaceProbe

        if probe is not None:
            path = Path(probe)
        elif data.dataset_dir is not None:
            path = data.dataset_dir / SURFACE_PROBE
        else:
            raise ConfigError(
                "the surface baseline needs the dataset's probe (probes/surface.pkl)",
                fix="pass --data DIR (a directory written by `proclab dataset build`) or "
                "--option probe=PATH",
            )
        return cls(SurfaceProbe.load(path), path)

    def answer(self, records: Sequence[EvalRecord], prompts: Sequence[list[Message]],
               config: GenerationConfig) -> list[Generation]:
        return _answers(self.probe.predict(records))  # type: ignore[arg-type]
