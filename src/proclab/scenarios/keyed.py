"""Keyed random choices: each choice is a hash of (seed, key), not the next draw of a stream.

The narrator keys a step's template by the step id and a cue by its position, so two renderings
with the same seed make the same choice for the same thing even when the traces differ (a
counterfactual pair's texts then differ only where the edit is).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar
from zlib import crc32

T = TypeVar("T")
_SCALE = float(2**64)
_MASK = 2**64 - 1


class Keyed:
    """Deterministic choices from a 64-bit seed; the same key always gives the same answer."""

    __slots__ = ("_seed",)

    def __init__(self, seed: int):
        self._seed = seed & _MASK

    def bits(self, key: str) -> int:
        """64 well-mixed bits from (seed, key): crc32 of the key folded into the seed, then
        the splitmix64 finaliser (a tenth of the cost of a cryptographic hash; these choices
        need spread, not secrecy)."""
        x = (self._seed ^ (crc32(key.encode()) * 0x9E3779B97F4A7C15)) & _MASK
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
        return x ^ (x >> 31)

    def uniform(self, key: str) -> float:
        """A float in [0, 1)."""
        return self.bits(key) / _SCALE

    def chance(self, key: str, p: float) -> bool:
        return self.uniform(key) < p

    def randint(self, key: str, lo: int, hi: int) -> int:
        """An int in [lo, hi] (both inclusive)."""
        return lo + self.bits(key) % (hi - lo + 1)

    def pick(self, key: str, items: Sequence[T]) -> T:
        return items[self.bits(key) % len(items)]

    def sample(self, key: str, items: Sequence[T], k: int) -> list[T]:
        """`k` distinct items (all of them when k >= len(items)), in a keyed order; costs O(k)
        hashes however long `items` is."""
        k = min(k, len(items))
        chosen: list[int] = []
        taken: set[int] = set()
        j = 0
        while len(chosen) < k:
            idx = self.bits(f"{key}#{j}") % len(items)
            j += 1
            if idx not in taken:
                taken.add(idx)
                chosen.append(idx)
            elif j > 4 * k + 16:  # rare long run of collisions: take the next free ones
                chosen += [i for i in range(len(items)) if i not in taken][: k - len(chosen)]
                break
        return [items[i] for i in chosen]
