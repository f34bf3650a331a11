"""Shortcut probes: can a model that never reads the procedure guess the label?

Trained on the train split, scored on every held-out split and per perturbation:
- `scenario_bow`: TF-IDF word uni+bigrams of the scenario text -> logistic regression. The same
  model is the evaluation stage's "surface" baseline (`fit_surface_probe`, `SurfaceProbe`).
- `length_lr` / `length_stump`: scenario length only (characters, words) -> logistic regression
  on standardised features / a depth-1 decision tree.
- `overlap_lr` / `overlap_gbt`: procedure-scenario lexical overlap only (`overlap.FEATURES`:
  shares of step n-grams found in the scenario, per-step coverage, order of first matches,
  copied 5-grams) -> logistic regression / gradient-boosted trees. It reads both texts but can
  only match strings, so what it scores above chance is what string matching solves.
- `majority`: the most frequent training label.
Goals (config): scenario-only accuracy <= 0.60 on every held-out split and <= 0.65 on every
held-out split x perturbation cell, length-only <= 0.55, overlap <= 0.65. Besides the probes the
report holds the copy metric (`overlap.copy_report`; goal: each perturbation type outside
`copy_exempt` copies <= 10 % of its scenario 5-grams from the procedure text) and the most
recurring scenario lines (`recurrence.py`).
"""

from __future__ import annotations

import pickle
from collections import Counter
from collections.abc import Mapping, Sequence
from itertools import repeat
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier
from threadpoolctl import threadpool_limits

from proclab.dataset.config import ProbeConfig
from proclab.dataset.dedup import words
from proclab.dataset.overlap import FEATURES, OverlapFeaturizer, copy_report, units_of
from proclab.dataset.recurrence import recurrence_report
from proclab.errors import DataError
from proclab.procedures.schema import Procedure

_PICKLE_FORMAT = "proclab.surface_probe.v1"
Record = Any  # an Instance, or a mapping with at least `scenario_text` (and `label` to fit)


def _field(record: Record, name: str) -> Any:
    return record[name] if isinstance(record, Mapping) else getattr(record, name)


class SurfaceProbe:
    """Scenario-only bag-of-words classifier; `predict` returns verdict strings."""

    def __init__(self, pipeline: Pipeline):
        self.pipeline = pipeline

    def predict(self, records: Sequence[Record]) -> list[str]:
        if not records:
            return []
        texts = [_field(r, "scenario_text") for r in records]
        return [str(label) for label in self.pipeline.predict(texts)]

    def top_features(self, n: int) -> dict[str, list[list[Any]]]:
        """The `n` strongest cue n-grams for each label, with their coefficients."""
        vectorizer, model = self.pipeline[0], self.pipeline[-1]
        names = vectorizer.get_feature_names_out()
        coef = model.coef_[0]
        order = np.argsort(coef, kind="stable")
        neg, pos = model.classes_
        return {
            str(pos): [[str(names[i]), round(float(coef[i]), 4)] for i in order[::-1][:n]],
            str(neg): [[str(names[i]), round(float(coef[i]), 4)] for i in order[:n]],
        }

    def save(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pickle.dumps((_PICKLE_FORMAT, self.pipeline), protocol=4))

    @classmethod
    def load(cls, path: str | Path) -> SurfaceProbe:
        """Load a probe saved by `save` (a pickle: only load files this tool wrote)."""
        path = Path(path)
        if not path.is_file():
            raise DataError(
                "surface probe not found", where=str(path), fix="run `proclab dataset build` first"
            )
        fmt, pipeline = pickle.loads(path.read_bytes())
        if fmt != _PICKLE_FORMAT:
            raise DataError(f"unknown probe format {fmt!r}", where=str(path))
        return cls(pipeline)


class NgramCounter(BaseEstimator, TransformerMixin):
    """Word uni+bigram counts (sklearn transformer) with `min_df`; a vectorised stand-in for
    CountVectorizer(ngram_range=(1, 2)), several times faster on long scenarios because
    n-grams are integer keys built in numpy rather than strings built per token."""

    def __init__(self, min_df: int = 2):
        self.min_df = min_df

    def _keys(self, text: str, grow: bool) -> np.ndarray:
        """Integer n-gram keys: (id1 + 1) << 32 for a word, | (id2 + 1) for a word pair;
        unknown words (transform only) are dropped with the pairs they are part of."""
        tokens = words(text)
        found = (
            map(self._ids.__getitem__, tokens)
            if grow
            else map(self._ids.get, tokens, repeat(-1, len(tokens)))
        )
        ids = np.fromiter(found, np.int64, len(tokens)) + 1
        known = ids > 0
        pairs = known[:-1] & known[1:]
        bigrams = (ids[:-1][pairs] << 32) | ids[1:][pairs]
        return np.concatenate([ids[known] << 32, bigrams])

    def fit(self, texts: Sequence[str], y: Any = None) -> NgramCounter:
        self.fit_transform(texts)
        return self

    def fit_transform(self, texts: Sequence[str], y: Any = None) -> sparse.csr_matrix:
        """Fit the vocabulary and count the training texts, computing their keys once."""
        self._ids: dict[str, int] = _Vocab()
        per_doc = [self._keys(t, grow=True) for t in texts]
        keys, df = np.unique(np.concatenate([np.unique(k) for k in per_doc]), return_counts=True)
        self.vocabulary_ = keys[df >= self.min_df]
        self.words_ = np.array(sorted(self._ids, key=self._ids.__getitem__), dtype=object)
        return self._count(per_doc)

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        return self._count([self._keys(t, grow=False) for t in texts])

    def _count(self, per_doc: list[np.ndarray]) -> sparse.csr_matrix:
        rows, cols = [], []
        for row, keys in enumerate(per_doc):
            pos = np.searchsorted(self.vocabulary_, keys)
            hit = pos < self.vocabulary_.size
            hit[hit] = self.vocabulary_[pos[hit]] == keys[hit]
            cols.append(pos[hit])
            rows.append(np.full(int(hit.sum()), row))
        data = np.ones(sum(c.size for c in cols), np.float64)
        shape = (len(per_doc), self.vocabulary_.size)
        matrix = sparse.csr_matrix((data, (np.concatenate(rows), np.concatenate(cols))), shape)
        matrix.sum_duplicates()
        return matrix

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        first = (self.vocabulary_ >> 32) - 1
        second = (self.vocabulary_ & 0xFFFFFFFF) - 1
        return np.array(
            [
                self.words_[a] if b < 0 else f"{self.words_[a]} {self.words_[b]}"
                for a, b in zip(first, second, strict=True)
            ],
            dtype=object,
        )


class _Vocab(dict):
    """word -> id, assigning the next id to an unseen word."""

    def __missing__(self, word: str) -> int:
        self[word] = len(self)
        return self[word]


def fit_surface_probe(train_records: Sequence[Record], *, seed: int = 0) -> SurfaceProbe:
    """Fit the scenario-only probe on records with `scenario_text` and `label`."""
    labels = [_field(r, "label") for r in train_records]
    if len(set(labels)) < 2:
        raise DataError("the surface probe needs both labels in its training records")
    pipeline = make_pipeline(
        NgramCounter(min_df=2),
        TfidfTransformer(sublinear_tf=True),
        # liblinear: the exact L2 optimum, about twice as fast as lbfgs on these sparse counts.
        LogisticRegression(C=1.0, solver="liblinear", max_iter=2000, random_state=seed),
    )
    pipeline.fit([_field(r, "scenario_text") for r in train_records], labels)
    return SurfaceProbe(pipeline)


def length_features(records: Sequence[Record]) -> np.ndarray:
    texts = [_field(r, "scenario_text") for r in records]
    return np.array([[len(t), len(t.split())] for t in texts], dtype=np.float64)


def fit_overlap_probes(
    train: Sequence[Record], featurizer: OverlapFeaturizer, *, seed: int = 0
) -> dict[str, Pipeline]:
    """The overlap probes, fitted on `train`: logistic regression on standardised overlap
    features, and gradient-boosted trees (thresholds such as "some step barely matched")."""
    x, y = featurizer.transform(train), [_field(r, "label") for r in train]
    lr = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))
    # Small, well-filled leaves (about 200 records in the default build): chosen by
    # procedure-grouped 5-fold CV on its train split; bigger trees learn procedure-specific
    # coverage levels that do not transfer.
    gbt = make_pipeline(
        HistGradientBoostingClassifier(
            max_iter=100,
            max_leaf_nodes=4,
            min_samples_leaf=max(5, len(train) // 36),
            learning_rate=0.1,
            early_stopping=False,
            random_state=seed,
        )
    )
    # One OpenMP thread: a parallel reduction's summation order could change a prediction,
    # and probes.json must be byte-identical on rerun.
    with threadpool_limits(1):
        lr.fit(x, y)
        gbt.fit(x, y)
    return {"overlap_lr": lr, "overlap_gbt": gbt}


def overlap_weights(lr: Pipeline) -> list[list[Any]]:
    """The logistic overlap probe's coefficients (standardised features), largest first; the
    sign points toward the second class (NON-COMPLIANT)."""
    coef = lr[-1].coef_[0]
    order = sorted(range(coef.size), key=lambda i: (-abs(coef[i]), i))
    return [[FEATURES[i], round(float(coef[i]), 4)] for i in order]


def run_probes(
    train: Sequence[Record],
    heldout: dict[str, Sequence[Record]],
    config: ProbeConfig,
    *,
    procedures: Mapping[str, Procedure] | None = None,
) -> tuple[dict[str, Any], SurfaceProbe | None]:
    """Fit every probe on `train`, score it on each held-out split; the report and the
    surface probe (None when train lacks a label). `procedures` (by id) give the overlap probe
    each procedure's steps; without them it matches the rendered procedure's lines."""
    featurizer = OverlapFeaturizer({pid: units_of(p) for pid, p in (procedures or {}).items()})
    everything = [*train, *(r for split in sorted(heldout) for r in heldout[split])]
    texts = {
        "copy": copy_report(
            everything, featurizer, goal=config.copy_goal, exempt=config.copy_exempt
        ),
        "recurring_lines": recurrence_report(everything, config.recurring_lines),
    }
    y_train = [_field(r, "label") for r in train]
    if len(set(y_train)) < 2:
        return {"skipped": "the train split does not hold both labels", **texts}, None
    surface = fit_surface_probe(train, seed=config.seed)
    length_lr = make_pipeline(StandardScaler(), LogisticRegression(random_state=config.seed))
    length_lr.fit(length_features(train), y_train)
    stump = DecisionTreeClassifier(max_depth=1, random_state=config.seed)
    stump.fit(length_features(train), y_train)
    overlap = fit_overlap_probes(train, featurizer, seed=config.seed)
    majority = sorted(Counter(y_train).items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
    predictors = {
        "scenario_bow": surface.predict,
        "length_lr": lambda rs: list(length_lr.predict(length_features(rs))) if rs else [],
        "length_stump": lambda rs: list(stump.predict(length_features(rs))) if rs else [],
        **{name: _on_features(model, featurizer) for name, model in overlap.items()},
        "majority": lambda rs: [majority] * len(rs),
    }
    probes = {name: _score(fn, train, heldout) for name, fn in predictors.items()}
    report = {
        "train_records": len(train),
        "probes": probes,
        "goals": _goals(probes, config, texts["copy"]),
        "top_features": surface.top_features(config.top_features),
        "overlap_features": list(FEATURES),
        "overlap_weights": overlap_weights(overlap["overlap_lr"]),
        "mean_chars_by_label": _mean_chars(train, heldout),
        **texts,
    }
    return report, surface


def _on_features(model: Pipeline, featurizer: OverlapFeaturizer):
    def predict(records: Sequence[Record]) -> list[str]:
        if not records:
            return []
        with threadpool_limits(1):
            return [str(p) for p in model.predict(featurizer.transform(records))]

    return predict


def _goals(probes: dict[str, Any], config: ProbeConfig, copy: dict[str, Any]) -> dict:
    worst_cell = max(
        (
            (acc, split, pert)
            for split, per in probes["scenario_bow"]["per_perturbation"].items()
            for pert, acc in per.items()
            if acc is not None
        ),
        default=(0.0, None, None),
    )
    return {
        "scenario_only": _goal(_worst(probes["scenario_bow"]), config.scenario_goal),
        "scenario_per_perturbation": _goal(
            worst_cell[0],
            config.scenario_perturbation_goal,
            measure="highest held-out split x perturbation accuracy",
            worst=f"{worst_cell[1]} / {worst_cell[2]}" if worst_cell[1] else None,
        ),
        "length_only": _goal(
            max(_worst(probes["length_lr"]), _worst(probes["length_stump"])), config.length_goal
        ),
        "overlap": _goal(
            max(_worst(probes["overlap_lr"]), _worst(probes["overlap_gbt"])), config.overlap_goal
        ),
        "copy": copy["goal"],
    }


def _score(predict, train: Sequence[Record], heldout: dict[str, Sequence[Record]]) -> dict:
    """Accuracies from one prediction per record: train, each held-out split, pooled, and per
    perturbation within each split."""
    out: dict[str, Any] = {"train_accuracy": _accuracy(predict(train), train)}
    pooled_hits = pooled_n = 0
    out["heldout"], per = {}, {}
    for split, recs in sorted(heldout.items()):
        hits = _hits(predict(recs), recs)
        out["heldout"][split] = _rate(hits)
        pooled_hits, pooled_n = pooled_hits + sum(hits), pooled_n + len(hits)
        by_p: dict[str, list[bool]] = {}
        for rec, hit in zip(recs, hits, strict=True):
            by_p.setdefault(_field(rec, "perturbation"), []).append(hit)
        per[split] = {p: _rate(h) for p, h in sorted(by_p.items())}
    out["heldout_all"] = round(pooled_hits / pooled_n, 4) if pooled_n else None
    out["per_perturbation"] = per
    return out


def _hits(predicted: Sequence[str], records: Sequence[Record]) -> list[bool]:
    return [p == _field(r, "label") for p, r in zip(predicted, records, strict=True)]


def _rate(hits: Sequence[bool]) -> float | None:
    return round(sum(hits) / len(hits), 4) if hits else None


def _accuracy(predicted: Sequence[str], records: Sequence[Record]) -> float | None:
    return _rate(_hits(predicted, records))


def _worst(probe: dict[str, Any]) -> float:
    """The highest held-out split accuracy: the goal must hold on every split."""
    return max((a for a in probe["heldout"].values() if a is not None), default=0.0)


def _goal(
    value: float,
    goal: float,
    *,
    measure: str = "highest held-out split accuracy",
    worst: str | None = None,
) -> dict[str, Any]:
    out = {"measure": measure, "value": value, "goal": goal, "met": value <= goal}
    return out | ({"worst": worst} if worst else {})


def _mean_chars(train: Sequence[Record], heldout: dict[str, Sequence[Record]]) -> dict:
    out: dict[str, dict[str, float]] = {}
    for split, recs in [("train", train), *sorted(heldout.items())]:
        by_label: dict[str, list[int]] = {}
        for r in recs:
            by_label.setdefault(_field(r, "label"), []).append(len(_field(r, "scenario_text")))
        out[split] = {k: round(float(np.mean(v)), 1) for k, v in sorted(by_label.items())}
    return out
