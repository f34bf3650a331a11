"""Leakage audit: how similar is the most similar pair of instances in two different splits?

The similarity of two instances is the dedup module's: `min(J_procedure, J_scenario)` over word
shingles. The audit is exact, not sampled: instances are grouped by procedure text, group pairs
are visited in decreasing procedure Jaccard, and the scenario Jaccards of a group pair are
computed all at once (sparse intersection counts). Because the similarity never exceeds the
procedure Jaccard, the search stops once no remaining group pair can beat the best found, and
only group pairs with J_procedure >= threshold can hold a pair above the threshold.
The scenario-only maximum (procedure ignored) is reported too, over all cross-split pairs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
from scipy import sparse

from proclab.dataset.config import DedupConfig
from proclab.dataset.dedup import normalise, shingles
from proclab.dataset.records import Instance

_CHUNK = 2048  # rows per sparse product in the scenario-only scan (bounds memory)


@dataclass
class _Index:
    records: list[Instance]
    matrix: sparse.csr_matrix  # record x shingle, binary
    sizes: np.ndarray  # shingles per record
    group_of: np.ndarray  # record -> procedure-text group
    group_sets: list[np.ndarray]  # procedure shingles per group


def leakage_audit(
    splits: dict[str, Sequence[Instance]],
    pairs: Sequence[Instance],
    config: DedupConfig,
) -> dict[str, Any]:
    """Exact highest cross-split similarity and count of cross-split pairs >= threshold."""
    records = [r for name in sorted(splits) for r in splits[name]] + list(pairs)
    index = _index(records, config.shingle_words)
    names = sorted({r.split for r in records})
    by_split = {s: np.array([i for i, r in enumerate(records) if r.split == s]) for s in names}
    jp = _group_jaccard(index.group_sets)
    rows = []
    for a, b in combinations(names, 2):
        row = _split_pair(index, jp, by_split[a], by_split[b], config.threshold)
        row["scenario_only_max_jaccard"] = _round(_scenario_max(index, by_split[a], by_split[b]))
        rows.append({"splits": [a, b]} | row)
    best = max(rows, key=lambda r: r["max_similarity"], default=None)
    above = sum(r["pairs_above_threshold"] for r in rows)
    return {
        "threshold": config.threshold,
        "similarity": f"min(J_procedure, J_scenario) over word {config.shingle_words}-gram "
        "shingles",
        "records": len(records),
        "max_cross_split_similarity": best["max_similarity"] if best else 0.0,
        "max_pair": best["max_pair"] if best else None,
        "pairs_above_threshold": above,
        "max_cross_split_scenario_jaccard": max(
            (r["scenario_only_max_jaccard"] for r in rows), default=0.0
        ),
        "passed": above == 0,
        "by_split_pair": rows,
    }


def _index(records: list[Instance], k: int) -> _Index:
    matrix, sizes = _csr([shingles(r.scenario_text, k) for r in records])
    groups: dict[str, int] = {}
    group_sets: list[np.ndarray] = []
    group_of = np.zeros(len(records), dtype=np.int64)
    for i, rec in enumerate(records):
        key = normalise(rec.procedure_text)
        if key not in groups:
            groups[key] = len(group_sets)
            group_sets.append(shingles(rec.procedure_text, k))
        group_of[i] = groups[key]
    return _Index(records, matrix, sizes, group_of, group_sets)


def _csr(sets: list[np.ndarray]) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Binary set x shingle matrix (shingle columns renumbered densely) and set sizes."""
    sizes = np.array([s.size for s in sets], dtype=np.int64)
    flat = np.concatenate(sets) if sets else np.zeros(0, np.uint32)
    cols = np.unique(flat, return_inverse=True)[1].reshape(-1)
    indptr = np.concatenate([[0], np.cumsum(sizes)])
    shape = (len(sets), int(cols.max(initial=-1)) + 1)
    matrix = sparse.csr_matrix((np.ones(flat.size, np.int32), cols, indptr), shape=shape)
    return matrix, sizes


def _jaccard_matrix(
    matrix: sparse.csr_matrix, sizes: np.ndarray, rows: np.ndarray, cols: np.ndarray
) -> np.ndarray:
    inter = (matrix[rows] @ matrix[cols].T).toarray().astype(np.float64)
    union = sizes[rows][:, None] + sizes[cols][None, :] - inter
    return np.divide(inter, union, out=np.ones_like(inter), where=union > 0)


def _group_jaccard(sets: list[np.ndarray]) -> np.ndarray:
    matrix, sizes = _csr(sets)
    every = np.arange(len(sets))
    return _jaccard_matrix(matrix, sizes, every, every)


def _scenario_jaccard(index: _Index, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    return _jaccard_matrix(index.matrix, index.sizes, rows, cols)


def _split_pair(
    index: _Index, jp: np.ndarray, a: np.ndarray, b: np.ndarray, threshold: float
) -> dict[str, Any]:
    ga = {int(g): a[index.group_of[a] == g] for g in np.unique(index.group_of[a])}
    gb = {int(g): b[index.group_of[b] == g] for g in np.unique(index.group_of[b])}
    order = sorted(((jp[g, h], g, h) for g in ga for h in gb), key=lambda t: (-t[0], t[1], t[2]))
    best, best_pair, above = -1.0, None, 0
    for jp_gh, g, h in order:
        if jp_gh <= best and jp_gh < threshold:
            break  # sorted: no later group pair can beat `best` or reach the threshold
        js = _scenario_jaccard(index, ga[g], gb[h])
        sim = np.minimum(js, jp_gh)
        if jp_gh >= threshold:
            above += int((sim >= threshold).sum())
        i, j = np.unravel_index(int(np.argmax(sim)), sim.shape)
        if sim[i, j] > best:
            best = float(sim[i, j])
            best_pair = _describe(
                index, int(ga[g][i]), int(gb[h][j]), float(jp_gh), float(js[i, j])
            )
    return {
        "max_similarity": _round(max(best, 0.0)),
        "max_pair": best_pair,
        "pairs_above_threshold": above,
    }


def _scenario_max(index: _Index, a: np.ndarray, b: np.ndarray) -> float:
    if a.size == 0 or b.size == 0:
        return 0.0
    columns = index.matrix[b].T.tocsr()  # transposed once, reused by every chunk
    size_b = index.sizes[b][None, :]
    best = 0.0
    for start in range(0, len(a), _CHUNK):
        rows = a[start : start + _CHUNK]
        inter = (index.matrix[rows] @ columns).toarray().astype(np.float64)
        union = index.sizes[rows][:, None] + size_b - inter
        js = np.divide(inter, union, out=np.ones_like(inter), where=union > 0)
        best = max(best, float(js.max()))
    return best


def _describe(index: _Index, i: int, j: int, jp: float, js: float) -> dict[str, Any]:
    ra, rb = index.records[i], index.records[j]
    return {
        "a": ra.id,
        "b": rb.id,
        "procedures": [ra.procedure_id, rb.procedure_id],
        "procedure_jaccard": _round(jp),
        "scenario_jaccard": _round(js),
    }


def _round(x: float) -> float:
    return round(float(x), 6)
