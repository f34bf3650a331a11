"""Same seed -> byte-identical instances, even across interpreters with different hash seeds
(set iteration order changes with PYTHONHASHSEED; nothing may depend on it)."""

from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = """
import hashlib, random
from proclab.procedures.corpus import load_corpus
from proclab.scenarios.generate import generate
from proclab.scenarios.pairs import generate_pairs
from proclab.scenarios.types import PERTURBATION_IDS, Candidate
h = hashlib.sha256()
for proc in load_corpus()[::8]:
    rng = random.Random(proc.id)
    for pid in PERTURBATION_IDS:
        got = generate(proc, pid, rng)
        h.update(repr(got).encode())
    for c in generate_pairs(proc, rng):
        h.update(repr(c).encode())
print(h.hexdigest())
"""


def _digest(hash_seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                         text=True, check=True, timeout=120)
    return out.stdout.strip()


def test_generation_does_not_depend_on_the_hash_seed() -> None:
    first = _digest("1")
    assert len(first) == 64
    assert _digest("2") == first
