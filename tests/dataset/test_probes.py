"""Shortcut probes: they must find planted cues and lengths, and not invent them."""

from __future__ import annotations

import random

import pytest
from tests.dataset.dataset_fakes import record

from proclab.dataset.config import ProbeConfig
from proclab.dataset.probes import SurfaceProbe, fit_surface_probe, run_probes

FILLER = [
    "the",
    "worker",
    "checked",
    "the",
    "bench",
    "then",
    "logged",
    "the",
    "sample",
    "and",
    "closed",
    "the",
    "door",
]


def scen(rng: random.Random, n: int, cue: str | None = None) -> str:
    words = [rng.choice(FILLER) for _ in range(n)]
    if cue:
        words.insert(rng.randrange(len(words)), cue)
    return " ".join(words)


def dataset(seed: int, n: int, *, cue: bool = False, long_noncompliant: bool = False):
    rng = random.Random(seed)
    out = []
    for i in range(n):
        label = "COMPLIANT" if i % 2 else "NON-COMPLIANT"
        length = 40 if long_noncompliant and label == "NON-COMPLIANT" else 20
        word = ("forgot" if label == "NON-COMPLIANT" else "promptly") if cue else None
        out.append(record(f"r{seed}-{i}", "x", "P", scen(rng, length, word), label))
    return out


def test_bow_probe_finds_a_planted_cue_word() -> None:
    report, surface = run_probes(
        dataset(1, 200, cue=True), {"held": dataset(2, 100, cue=True)}, ProbeConfig()
    )
    assert report["probes"]["scenario_bow"]["heldout"]["held"] == 1.0
    assert not report["goals"]["scenario_only"]["met"]
    top_n = [t for t, _ in report["top_features"]["NON-COMPLIANT"]]
    top_c = [t for t, _ in report["top_features"]["COMPLIANT"]]
    assert top_n[0] == "forgot" and top_c[0] == "promptly"
    assert surface is not None


def test_probes_are_at_chance_without_cues() -> None:
    report, _ = run_probes(dataset(3, 300), {"held": dataset(4, 300)}, ProbeConfig())
    for name in ("scenario_bow", "length_lr", "length_stump"):
        assert report["probes"][name]["heldout"]["held"] < 0.6, name
    assert report["goals"]["length_only"]["met"]
    assert report["probes"]["majority"]["heldout"]["held"] == 0.5


def test_length_probe_finds_a_length_shortcut() -> None:
    report, _ = run_probes(
        dataset(5, 200, long_noncompliant=True),
        {"held": dataset(6, 100, long_noncompliant=True)},
        ProbeConfig(),
    )
    assert report["probes"]["length_stump"]["heldout"]["held"] == 1.0
    assert not report["goals"]["length_only"]["met"]


def test_per_perturbation_scores() -> None:
    held = [
        record("a", "h", "P", "promptly done", "COMPLIANT", "baseline_compliant"),
        record("b", "h", "P", "forgot it", "NON-COMPLIANT", "baseline_noncompliant"),
    ]
    report, _ = run_probes(dataset(7, 200, cue=True), {"h": held}, ProbeConfig())
    per = report["probes"]["scenario_bow"]["per_perturbation"]["h"]
    assert per == {"baseline_compliant": 1.0, "baseline_noncompliant": 1.0}


def test_surface_probe_save_load_round_trip(tmp_path) -> None:
    train = dataset(8, 120, cue=True)
    probe = fit_surface_probe(train)
    path = tmp_path / "probes" / "surface.pkl"
    probe.save(path)
    loaded = SurfaceProbe.load(path)
    held = dataset(9, 50, cue=True)
    assert loaded.predict(held) == probe.predict(held) == [r.label for r in held]
    # Plain mappings work too: the evaluation stage may pass rows read from JSONL.
    assert loaded.predict([{"scenario_text": "we forgot"}]) == ["NON-COMPLIANT"]


def test_one_label_train_split_is_reported_not_crashed() -> None:
    train = [r for r in dataset(10, 40) if r.label == "COMPLIANT"]
    report, surface = run_probes(train, {"h": dataset(11, 10)}, ProbeConfig())
    assert surface is None and "skipped" in report
    with pytest.raises(Exception, match="both labels"):
        fit_surface_probe(train)
