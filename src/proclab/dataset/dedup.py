"""Exact and near-duplicate detection over (procedure text, scenario text) instances.

Exact duplicates: equal SHA-256 of the normalised (lowercased, whitespace-collapsed) procedure
and scenario texts. An exact duplicate whose label differs is counted as a label conflict.

Near duplicates. Every instance of one procedure in one house style shares the whole procedure
text, so a Jaccard over the concatenated texts would call all of them duplicates. Instead the
similarity of two instances is `min(J_procedure, J_scenario)`: the Jaccard of the procedure
texts' word-shingle sets and of the scenarios' shingle sets. Two instances are near duplicates
when that similarity reaches the threshold (default 0.8), i.e. when they show (nearly) the same
procedure text *and* (nearly) the same scenario, and either

- they are in different splits (any labels): held-out data is deduplicated against training
  and against the other held-out splits; or
- they are in the same split and have the same label. Same-split near twins with opposite
  labels are kept: they are the minimal contrasts the task is about, not redundancy.

Within a split, candidates come from MinHash LSH (datasketch) over the scenario shingles, with
bands chosen to catch >= 98% of pairs at the threshold (more above it), then are verified with
exact Jaccard, so the cost grows with the number of instances, not with the number of pairs.
Across splits every kept instance with a near-identical procedure text is compared: one vector
comparison of MinHash signatures, then exact Jaccard for any whose estimate
is within 0.2 of the threshold (a true Jaccard at the threshold falls below that with
probability ~1e-8 at 128 permutations). Held-out procedures differ from training ones, so these
groups are small; `audit.py` re-checks the guarantee exactly and independently.
"""

from __future__ import annotations

import hashlib
import string
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from datasketch import MinHash, MinHashLSH

from proclab.dataset.config import DedupConfig

_PUNCTUATION = str.maketrans(dict.fromkeys(string.punctuation + "‘’“”–—…«»¿¡·•", " "))
_MULT = np.uint64(0x9E3779B97F4A7C15)  # odd: the rolling combination stays a bijection per step
# A pair is verified exactly when its MinHash estimate is within this of the threshold; with
# 128 permutations a true Jaccard at the threshold falls below it with probability ~1e-8.
_ESTIMATE_MARGIN = 0.2

DecisionKind = Literal["kept", "exact", "near"]

NEAR_DUPLICATE_RULE = (
    "Two instances are near duplicates when min(J_procedure, J_scenario) >= threshold, the "
    "Jaccard similarities of their procedure texts' and scenarios' word-shingle sets (a Jaccard "
    "over the concatenation would flag every instance of one procedure in one style, since they "
    "share the whole procedure text), and they are in different splits (any labels) or in the "
    "same split with the same label: same-split near twins with opposite labels are the minimal "
    "contrasts the task is about, so both are kept."
)


def normalise(text: str) -> str:
    """Lowercase and collapse whitespace: the form exact duplicates are compared in."""
    return " ".join(text.lower().split())


def lsh_params(threshold: float, num_perm: int, recall: float = 0.98) -> tuple[int, int]:
    """(bands, rows): the most rows per band (fewest false candidates) whose banding still
    catches a pair at exactly `threshold` with probability >= `recall`. datasketch's default
    optimum balances misses against false candidates and finds only ~40% of pairs at 0.8."""
    for rows in range(num_perm // 2, 0, -1):
        bands = num_perm // rows
        if 1 - (1 - threshold**rows) ** bands >= recall:
            return bands, rows
    return num_perm, 1


class _WordHashes(dict):
    """word -> row of `table`, a stable 64-bit hash per distinct word seen so far (looked up
    with C-level `map`, so hashing a text costs one dict lookup per word)."""

    def __init__(self) -> None:
        super().__init__()
        self.table = np.zeros(1024, np.uint64)

    def __missing__(self, word: str) -> int:
        row = len(self)
        if row == len(self.table):
            self.table = np.concatenate([self.table, np.zeros_like(self.table)])
        digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
        self.table[row] = int.from_bytes(digest, "little")
        self[word] = row
        return row


_WORDS = _WordHashes()


def words(text: str) -> list[str]:
    """Lowercased words: the text split on whitespace and punctuation."""
    return text.lower().translate(_PUNCTUATION).split()


def _fmix64(h: np.ndarray) -> np.ndarray:
    # MurmurHash3's finaliser: spreads the rolling combination over all 64 bits.
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xFF51AFD7ED558CCD)
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> np.uint64(33))


def shingles(text: str, k: int) -> np.ndarray:
    """Sorted unique 32-bit hashes of the word k-grams of `text` (one gram if shorter).

    Words are hashed once (cached) and combined per window with a polynomial in numpy, so the
    cost is one string split plus a few vector operations, not one hash call per shingle."""
    tokens = words(text)
    if not tokens:
        return np.zeros(0, np.uint32)
    grams = gram_hashes(tokens, min(k, len(tokens)))
    return sorted_unique((grams >> np.uint64(32)).astype(np.uint32))


def gram_hashes(tokens: Sequence[str], k: int) -> np.ndarray:
    """64-bit hashes of the word k-grams of `tokens`, one per window in text order (empty when
    there are fewer than k tokens); equal k-grams get equal hashes in every text."""
    return gram_hash_series(tokens, (k,))[k]


def gram_hash_series(tokens: Sequence[str], ks: Sequence[int]) -> dict[int, np.ndarray]:
    """`gram_hashes` for several k at once: the rolling combination for k extends the one for
    k - 1 by a word, so the words are looked up once and each k costs one vector step."""
    out = {k: np.zeros(0, np.uint64) for k in ks}
    top = min(max(ks, default=0), len(tokens))
    if top < 1:
        return out
    rows = np.fromiter(map(_WORDS.__getitem__, tokens), np.int64, len(tokens))
    h = _WORDS.table[rows]
    acc = h.copy()
    for k in range(1, top + 1):
        if k > 1:
            acc = acc[:-1] * _MULT + h[k - 1 :]
        if k in out:
            out[k] = _fmix64(acc)
    return out


def sorted_unique(x: np.ndarray) -> np.ndarray:
    # Several times faster than np.unique on the few hundred values of one text.
    x = np.sort(x)
    keep = np.empty(x.size, bool)
    keep[:1] = True
    np.not_equal(x[1:], x[:-1], out=keep[1:])
    return x[keep]


def intersection_size(a: np.ndarray, b: np.ndarray) -> int:
    """|a & b| for sorted unique arrays."""
    if a.size == 0 or b.size == 0:
        return 0
    pos = np.minimum(np.searchsorted(b, a), b.size - 1)
    return int(np.count_nonzero(b[pos] == a))


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard of two sorted unique shingle arrays (two empty sets are identical)."""
    if a.size == 0 and b.size == 0:
        return 1.0
    inter = intersection_size(a, b)
    return inter / (a.size + b.size - inter)


@dataclass(frozen=True)
class DedupItem:
    procedure_text: str
    scenario_text: str
    label: str
    split: str


@dataclass(frozen=True)
class DedupDecision:
    """`kept`, or a duplicate of the earlier kept item `match` (its index among kept items)."""

    kind: DecisionKind
    match: int | None = None
    similarity: float = 1.0
    cross_split: bool = False
    label_conflict: bool = False


@dataclass
class DedupStats:
    offered: int = 0
    kept: int = 0
    exact: int = 0
    exact_label_conflicts: int = 0
    near_same_split: int = 0
    near_cross_split: int = 0

    def add(self, decision: DedupDecision) -> None:
        self.offered += 1
        if decision.kind == "kept":
            self.kept += 1
        elif decision.kind == "exact":
            self.exact += 1
            self.exact_label_conflicts += decision.label_conflict
        elif decision.cross_split:
            self.near_cross_split += 1
        else:
            self.near_same_split += 1


@dataclass
class _Kept:
    proc: int
    split: str
    label: str
    scenario: np.ndarray


class _Group:
    """Kept instances sharing one procedure text and split, with their MinHash signatures
    stacked so one vector comparison estimates a new scenario's Jaccard to all of them."""

    def __init__(self, num_perm: int):
        self.members: list[int] = []
        self._sigs = np.zeros((8, num_perm), np.uint32)

    def add(self, index: int, signature: np.ndarray) -> None:
        if len(self.members) == len(self._sigs):
            self._sigs = np.concatenate([self._sigs, np.zeros_like(self._sigs)])
        self._sigs[len(self.members)] = signature
        self.members.append(index)

    def likely(self, signature: np.ndarray, floor: float) -> list[int]:
        """Members whose estimated Jaccard to `signature` is at least `floor`."""
        if not self.members:
            return []
        estimate = (self._sigs[: len(self.members)] == signature).mean(axis=1)
        return [self.members[i] for i in np.flatnonzero(estimate >= floor)]


@dataclass
class _ProcTexts:
    """Interned procedure texts, their shingles and which ones are near-identical."""

    threshold: float
    k: int
    by_text: dict[str, int] = field(default_factory=dict)  # raw text -> id (fast path)
    ids: dict[str, int] = field(default_factory=dict)  # normalised text -> id
    sets: list[np.ndarray] = field(default_factory=list)
    similar: list[dict[int, float]] = field(default_factory=list)

    def intern(self, text: str) -> int:
        if text in self.by_text:
            return self.by_text[text]
        key = normalise(text)
        if key not in self.ids:
            self.ids[key] = self._add(shingles(text, self.k))
        self.by_text[text] = self.ids[key]
        return self.ids[key]

    def _add(self, sh: np.ndarray) -> int:
        new = len(self.sets)
        self.sets.append(sh)
        self.similar.append({new: 1.0})
        for other in range(new):
            jp = jaccard(sh, self.sets[other])
            if jp >= self.threshold:
                self.similar[new][other] = jp
                self.similar[other][new] = jp
        return new


class Deduper:
    """Incremental dedup: `offer` each candidate in order; kept ones join the index."""

    def __init__(self, config: DedupConfig):
        self.config = config
        self.stats = DedupStats()
        self.seconds = 0.0  # wall time spent in `offer`, for the build's per-stage timings
        self.cpu_seconds = 0.0
        self._procs = _ProcTexts(config.threshold, config.shingle_words)
        self._lsh_params = lsh_params(config.threshold, config.num_perm)
        # One LSH index per (procedure text, split, label): a same-split near duplicate must
        # match all three, so candidates never include the many unrelated scenarios of the
        # same procedure in other styles or with the other label.
        self._lsh: dict[tuple[int, str, str], MinHashLSH] = {}
        template = MinHash(num_perm=config.num_perm, scheme="affine32")
        self._perms = template.permutations
        self._exact: dict[tuple[int, str], int] = {}
        self._kept: list[_Kept] = []
        self._groups: dict[int, dict[str, _Group]] = {}  # proc text -> split -> group

    def offer(self, item: DedupItem) -> DedupDecision:
        start, cpu = time.perf_counter(), time.process_time()
        decision = self._decide(item)
        self.stats.add(decision)
        self.seconds += time.perf_counter() - start
        self.cpu_seconds += time.process_time() - cpu
        return decision

    def _decide(self, item: DedupItem) -> DedupDecision:
        proc = self._procs.intern(item.procedure_text)
        key = (proc, hashlib.sha256(normalise(item.scenario_text).encode()).hexdigest())
        if key in self._exact:
            match = self._kept[self._exact[key]]
            conflict, cross = match.label != item.label, match.split != item.split
            return DedupDecision("exact", self._exact[key], 1.0, cross, conflict)
        scen = shingles(item.scenario_text, self.config.shingle_words)
        sig = self._signature(scen)
        found = self._cross_split(proc, scen, sig, item.split)
        minhash = MinHash(hashvalues=sig, permutations=self._perms, scheme="affine32")
        if found is None:
            found = self._same_split(proc, scen, minhash, item)
        if found is not None:
            match, sim = found
            return DedupDecision("near", match, sim, self._kept[match].split != item.split)
        index = len(self._kept)
        self._kept.append(_Kept(proc, item.split, item.label, scen))
        self._exact[key] = index
        group = self._groups.setdefault(proc, {}).setdefault(item.split, None)
        if group is None:
            group = self._groups[proc][item.split] = _Group(self.config.num_perm)
        group.add(index, sig)
        lsh_key = (proc, item.split, item.label)
        if lsh_key not in self._lsh:
            self._lsh[lsh_key] = MinHashLSH(num_perm=self.config.num_perm, params=self._lsh_params)
        self._lsh[lsh_key].insert(index, minhash, check_duplication=False)
        return DedupDecision("kept", index, 1.0)

    def _signature(self, scen: np.ndarray) -> np.ndarray:
        """MinHash values of the shingle hashes under datasketch's affine32 permutations
        (computed in one vector operation instead of MinHash.update_batch's Python loop)."""
        a, b = self._perms
        if scen.size == 0:
            return np.full(len(a), np.iinfo(np.uint32).max, np.uint32)
        return (scen[:, None] * a[None, :] + b[None, :]).min(axis=0)

    def _cross_split(
        self, proc: int, scen: np.ndarray, sig: np.ndarray, split: str
    ) -> tuple[int, float] | None:
        """Every other split's instance with a near-identical procedure whose MinHash estimate
        comes within the margin of the threshold is verified exactly."""
        t = self.config.threshold
        for other_proc, jp in sorted(self._procs.similar[proc].items()):
            for gsplit, group in sorted(self._groups.get(other_proc, {}).items()):
                if gsplit == split:
                    continue
                for member in group.likely(sig, t - _ESTIMATE_MARGIN):
                    sim = min(jp, jaccard(scen, self._kept[member].scenario))
                    if sim >= t:
                        return member, sim
        return None

    def _same_split(
        self, proc: int, scen: np.ndarray, minhash: MinHash, item: DedupItem
    ) -> tuple[int, float] | None:
        t = self.config.threshold
        for other_proc, jp in sorted(self._procs.similar[proc].items()):
            lsh = self._lsh.get((other_proc, item.split, item.label))
            for cand in sorted(lsh.query(minhash)) if lsh else []:
                sim = min(jp, jaccard(scen, self._kept[cand].scenario))
                if sim >= t:
                    return cand, sim
        return None


def dedup(items: Sequence[DedupItem], config: DedupConfig) -> list[DedupDecision]:
    """Offer `items` in order to a fresh Deduper; one decision per item."""
    deduper = Deduper(config)
    return [deduper.offer(item) for item in items]


def decision_counts(decisions: Sequence[DedupDecision]) -> dict[str, int]:
    return dict(sorted(Counter(d.kind for d in decisions).items()))
