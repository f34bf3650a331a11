"""The overlap features of many scenarios against one procedure text, in matrix form.

A procedure's units (see `overlap.ProcedureUnits`) are compiled once into a vocabulary of
their word 2- and 3-grams. For a batch of scenarios the builder marks, in a [scenario x
vocabulary] matrix, which of those n-grams each scenario contains and where it first does;
every feature is then a column-wise reduction over the units' columns. The values are
row-by-row identical to featurising each scenario alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from proclab.dataset.dedup import gram_hash_series, gram_hashes, sorted_unique, words

if TYPE_CHECKING:
    from proclab.dataset.overlap import ProcedureUnits

COPY_N = 5
_COVERAGE_N = (2, 3)
_LOCATE_N = 3  # first matches use step trigrams: bigrams match too loosely
_SCENARIO_NS = (2, 3, COPY_N)
_COPIED_NS = (3, COPY_N)  # the scenario's n-grams looked up in the procedure text
# A step counts as mentioned when at least half its trigrams are in the scenario: near-verbatim
# wording, which a paraphrase does not reach through shared nouns alone.
MENTION = 0.5

_COVERAGE = ("share", "mean", "min", "max", "std", "half", "zero", "added_max", "exc_max")
FEATURES: tuple[str, ...] = (
    *(f"{name}_{n}" for n in _COVERAGE_N for name in _COVERAGE),
    "unconditional_min_3",
    "unconditional_unmentioned",
    "matched_steps",
    "order_tau",
    "order_discordant",
    "first_step_pos",
    "pairs_inverted",
    "requires_unmentioned",
    "child_orphaned",
    "child_early",
    "scenario_in_procedure_3",
    "copy_5",
    "longest_copied_run",
)


@dataclass(frozen=True)
class Segments:
    """Units as runs of vocabulary columns: unit u owns `vid[starts[u]:ends[u]]`."""

    vid: np.ndarray
    starts: np.ndarray
    ends: np.ndarray

    @property
    def size(self) -> np.ndarray:
        return self.ends - self.starts

    def sums(self, matrix: np.ndarray) -> np.ndarray:
        """[rows x units]: each unit's columns of `matrix` added up."""
        cum = np.zeros((matrix.shape[0], self.vid.size + 1))
        np.cumsum(matrix[:, self.vid], axis=1, out=cum[:, 1:])
        return cum[:, self.ends] - cum[:, self.starts]

    def mins(self, matrix: np.ndarray) -> np.ndarray:
        """[rows x units]: each unit's smallest value (inf for a unit without columns)."""
        out = np.full((matrix.shape[0], self.starts.size), np.inf)
        filled = self.size > 0
        if filled.any():
            out[:, filled] = np.minimum.reduceat(matrix[:, self.vid], self.starts[filled], axis=1)
        return out


@dataclass(frozen=True)
class Compiled:
    vocab: np.ndarray  # sorted unique hashes of every unit n-gram
    cover: dict[int, Segments]  # every unit's distinct n-grams
    locate: Segments  # steps' distinctive trigrams (main, then added)
    main: int
    added: int
    conditional: np.ndarray  # bool per main step
    ordered: np.ndarray  # [2, k] (earlier, later) unit indexes
    requires: np.ndarray  # [2, k] (prerequisite, dependent)
    parent: np.ndarray  # [2, k] (parent, child)


def _unit_grams(texts: Sequence[str], n: int) -> list[np.ndarray]:
    return [sorted_unique(gram_hashes(words(t), n)) for t in texts]


def _distinctive(per: list[np.ndarray]) -> list[np.ndarray]:
    """Each unit's n-grams no other unit has (all of them where it has none of its own), so
    a first match locates that step rather than a phrase it shares with others."""
    if not per:
        return per
    grams, counts = np.unique(np.concatenate(per), return_counts=True)
    shared = grams[counts > 1]
    own = [g[~np.isin(g, shared)] for g in per]
    return [o if o.size else g for o, g in zip(own, per, strict=True)]


def _segments(per: list[np.ndarray], vocab: np.ndarray) -> Segments:
    sizes = np.array([g.size for g in per], np.int64)
    ends = np.cumsum(sizes)
    flat = np.concatenate([np.zeros(0, np.uint64), *per])
    return Segments(np.searchsorted(vocab, flat), ends - sizes, ends)


def _pairs(pairs: tuple[tuple[int, int], ...]) -> np.ndarray:
    return np.array(pairs, np.int64).reshape(-1, 2).T


def compile_units(units: ProcedureUnits) -> Compiled:
    texts = [*units.steps, *units.added, *units.exceptions]
    steps = len(units.steps) + len(units.added)
    grams = {n: _unit_grams(texts, n) for n in _COVERAGE_N}
    locate = _distinctive(grams[_LOCATE_N][:steps])
    vocab = sorted_unique(np.concatenate([np.zeros(0, np.uint64), *grams[2], *grams[3]]))
    flags = units.conditional or (False,) * len(units.steps)
    return Compiled(
        vocab=vocab,
        cover={n: _segments(per, vocab) for n, per in grams.items()},
        locate=_segments(locate, vocab),
        main=len(units.steps),
        added=len(units.added),
        conditional=np.array(flags, bool),
        ordered=_pairs(units.ordered),
        requires=_pairs(units.requires),
        parent=_pairs(units.parent),
    )


@dataclass
class _Scenarios:
    """A batch of scenarios as concatenated n-gram hash sequences: `seq[n]` holds every
    scenario's n-grams in text order, scenario `row[n][i]` at position `pos[n][i]`;
    `distinct[n]` / `distinct_row[n]` the same for each scenario's distinct n-grams."""

    seq: dict[int, np.ndarray]
    row: dict[int, np.ndarray]
    pos: dict[int, np.ndarray]
    length: dict[int, np.ndarray]  # n-grams per scenario
    distinct: dict[int, np.ndarray]
    distinct_row: dict[int, np.ndarray]

    @classmethod
    def of(cls, scenarios: Sequence[str]) -> _Scenarios:
        series = [gram_hash_series(words(s), _SCENARIO_NS) for s in scenarios]
        out = cls({}, {}, {}, {}, {}, {})
        for n in _SCENARIO_NS:
            parts = [s[n] for s in series]
            out.length[n] = sizes = np.array([p.size for p in parts], np.int64)
            out.seq[n] = np.concatenate([np.zeros(0, np.uint64), *parts])
            out.row[n] = np.repeat(np.arange(len(parts)), sizes)
            out.pos[n] = np.arange(out.seq[n].size) - np.repeat(np.cumsum(sizes) - sizes, sizes)
            if n in _COPIED_NS:
                unique = [sorted_unique(p) for p in parts]
                out.distinct[n] = np.concatenate([np.zeros(0, np.uint64), *unique])
                out.distinct_row[n] = np.repeat(np.arange(len(parts)), [u.size for u in unique])
        return out


def _lookup(sorted_set: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(found mask, index into `sorted_set`) for each of `values`."""
    if sorted_set.size == 0:
        return np.zeros(values.size, bool), np.zeros(values.size, np.int64)
    at = np.minimum(np.searchsorted(sorted_set, values), sorted_set.size - 1)
    return sorted_set[at] == values, at


def featurise(comp: Compiled, procedure_text: str, scenarios: Sequence[str]) -> np.ndarray:
    """[len(scenarios) x len(FEATURES)] overlap features against one procedure text."""
    batch = _Scenarios.of(scenarios)
    rows = len(scenarios)
    present = np.zeros((rows, comp.vocab.size))
    first = np.full((rows, comp.vocab.size), np.inf)
    for n in _COVERAGE_N:
        hit, at = _lookup(comp.vocab, batch.seq[n])
        present[batch.row[n][hit], at[hit]] = 1.0
        if n == _LOCATE_N:
            np.minimum.at(first, (batch.row[n][hit], at[hit]), batch.pos[n][hit])
    found = {n: comp.cover[n].sums(present) for n in _COVERAGE_N}
    cover = {n: _ratio(found[n], comp.cover[n].size) for n in _COVERAGE_N}
    parts = [_coverage(comp, cover[n], found[n], comp.cover[n].size) for n in _COVERAGE_N]
    located = comp.locate.mins(first)
    parts += [
        _unconditional(comp, cover[3]),
        _order(comp, located, batch.length[_LOCATE_N]),
        _relations(comp, cover[3], located),
        _copied(procedure_text, batch),
    ]
    return np.column_stack([np.column_stack(p) if isinstance(p, list) else p for p in parts])


def _ratio(found: np.ndarray, size: np.ndarray) -> np.ndarray:
    """Per unit, found / size; NaN for a unit without n-grams (shorter than n words)."""
    out = np.full(found.shape, np.nan)
    np.divide(found, size, out=out, where=np.broadcast_to(size > 0, found.shape))
    return out


def _row_stats(values: np.ndarray, valid: np.ndarray) -> dict[str, np.ndarray]:
    """Mean, min, max, std of each row's valid entries (a row without any reads as one 0)."""
    count = valid.sum(axis=1)
    empty = count == 0
    v = np.where(valid, values, 0.0)
    mean = v.sum(axis=1) / np.maximum(count, 1)
    var = (np.where(valid, (values - mean[:, None]) ** 2, 0.0)).sum(axis=1) / np.maximum(count, 1)
    low = np.where(valid, values, np.inf).min(axis=1, initial=np.inf)
    high = np.where(valid, values, -np.inf).max(axis=1, initial=-np.inf)
    return {
        "mean": mean,
        "min": np.where(empty, 0.0, low),
        "max": np.where(empty, 0.0, high),
        "std": np.sqrt(var),
        "count": np.maximum(count, 1),
        "empty": empty,
    }


def _masked_max(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    return np.where(valid, values, 0.0).max(axis=1, initial=0.0)


def _coverage(
    comp: Compiled, cov: np.ndarray, found: np.ndarray, size: np.ndarray
) -> list[np.ndarray]:
    """Share of all step n-grams found, then statistics of per-step coverage (main steps),
    the best-covered added step and exception text."""
    steps = comp.main + comp.added
    valid = np.broadcast_to(size > 0, cov.shape)
    share = found[:, :steps].sum(axis=1) / max(int(size[:steps].sum()), 1)
    main, mvalid = cov[:, : comp.main], valid[:, : comp.main]
    s = _row_stats(main, mvalid)
    half = ((main >= 0.5) & mvalid).sum(axis=1) / s["count"]
    zero = np.where(s["empty"], 1.0, ((main == 0) & mvalid).sum(axis=1) / s["count"])
    return [
        share,
        s["mean"],
        s["min"],
        s["max"],
        s["std"],
        half,
        zero,
        _masked_max(cov[:, comp.main : steps], valid[:, comp.main : steps]),
        _masked_max(cov[:, steps:], valid[:, steps:]),
    ]


def _unconditional(comp: Compiled, cov3: np.ndarray) -> list[np.ndarray]:
    """Lowest trigram coverage among main steps every run must include (no "only if", not
    internal), and how many of them the scenario does not mention: the string matcher's cue
    for an omission."""
    size = comp.cover[3].size[: comp.main]
    valid = np.broadcast_to((size > 0) & ~comp.conditional, (cov3.shape[0], comp.main))
    main = cov3[:, : comp.main]
    low = np.where(valid, main, np.inf).min(axis=1, initial=np.inf)
    return [np.where(np.isinf(low), 1.0, low), ((main < MENTION) & valid).sum(axis=1) * 1.0]


def _order(comp: Compiled, located: np.ndarray, length: np.ndarray) -> list[np.ndarray]:
    """Share of main steps matched at all, Kendall's tau between document order and first-
    match order (matched steps), share of consecutive matched steps whose first matches run
    backwards, and where the first step is first matched (share of the scenario; 1: never)."""
    first = located[:, : comp.main]
    matched = np.isfinite(first)
    steps = max(int((comp.locate.size[: comp.main] > 0).sum()), 1)
    i, j = np.triu_indices(comp.main, k=1)
    both = matched[:, i] & matched[:, j]
    concordant = (both & (first[:, i] < first[:, j])).sum(axis=1)
    discordant = (both & (first[:, i] > first[:, j])).sum(axis=1)
    tau = (concordant - discordant) / np.maximum(concordant + discordant, 1)
    # previous matched step for every column: consecutive matched pairs in document order
    cols = np.where(matched, np.arange(comp.main), -1)
    prev = np.maximum.accumulate(cols, axis=1)
    prev = np.concatenate([np.full((first.shape[0], 1), -1), prev[:, :-1]], axis=1)
    has_prev = matched & (prev >= 0)
    earlier = np.take_along_axis(first, np.maximum(prev, 0), axis=1)
    backwards = (has_prev & (first < earlier)).sum(axis=1)
    start = first[:, 0] / np.maximum(length, 1) if comp.main else np.ones(first.shape[0])
    return [
        matched.sum(axis=1) / steps,
        tau,
        backwards / np.maximum(has_prev.sum(axis=1), 1),
        np.where(np.isfinite(start), start, 1.0),
    ]


def _relations(comp: Compiled, cov3: np.ndarray, located: np.ndarray) -> list[np.ndarray]:
    """The procedure's stated relations read off the steps the scenario mentions, as a string
    matcher would: ordered pairs whose first matches are inverted, prerequisites of a
    mentioned step never mentioned, mentioned parts whose step is not, parts matched before
    their step."""
    mentioned = np.nan_to_num(cov3[:, : comp.main + comp.added]) >= MENTION
    a, b = comp.ordered
    pre, dep = comp.requires
    parent, child = comp.parent
    both = mentioned[:, a] & mentioned[:, b]
    pc = mentioned[:, parent] & mentioned[:, child]
    return [
        (both & (located[:, b] < located[:, a])).sum(axis=1) * 1.0,
        (mentioned[:, dep] & ~mentioned[:, pre]).sum(axis=1) * 1.0,
        (mentioned[:, child] & ~mentioned[:, parent]).sum(axis=1) * 1.0,
        (pc & (located[:, child] < located[:, parent])).sum(axis=1) * 1.0,
    ]


def _copied(procedure_text: str, batch: _Scenarios) -> list[np.ndarray]:
    """Share of each scenario's distinct trigrams and 5-grams found in the procedure text,
    and its longest copied run in words (0 when nothing is copied)."""
    series = gram_hash_series(words(procedure_text), _COPIED_NS)
    out = []
    for n in _COPIED_NS:
        proc = sorted_unique(series[n])
        rows, grams = batch.distinct_row[n], batch.distinct[n]
        hit, _ = _lookup(proc, grams)
        distinct = np.bincount(rows, minlength=batch.length[n].size)
        found = np.bincount(rows, weights=hit, minlength=batch.length[n].size)
        out.append(found / np.maximum(distinct, 1))
    hit, _ = _lookup(sorted_unique(series[COPY_N]), batch.seq[COPY_N])
    out.append(_longest_runs(hit, batch.row[COPY_N], batch.length[COPY_N].size))
    return out


def _longest_runs(hit: np.ndarray, row: np.ndarray, rows: int) -> np.ndarray:
    """Per scenario, the longest run of consecutive copied n-grams, in words."""
    longest = np.zeros(rows)
    if not hit.any():
        return longest
    # a run never crosses into the next scenario: a row change also ends it
    boundary = np.concatenate([[True], row[1:] != row[:-1]])
    starts = hit & (boundary | ~np.concatenate([[False], hit[:-1]]))
    run_id = np.cumsum(starts)
    runs = np.bincount(run_id[hit])
    run_row = np.zeros(runs.size, np.int64)
    run_row[run_id[hit]] = row[hit]
    np.maximum.at(longest, run_row[1:], runs[1:] + COPY_N - 1)
    return longest
