"""The build reports how often any one filler line recurs (goal: a few per cent at most)."""

from __future__ import annotations

from types import SimpleNamespace

from proclab.dataset.filler_share import filler_recurrence
from proclab.scenarios.lexicon import load_lexicon


def _inst(text: str, domain: str = "lab_safety") -> SimpleNamespace:
    return SimpleNamespace(scenario_text=text, domain=domain)


def test_shares_count_instances_and_see_through_sequence_cues() -> None:
    lines = [line for line, moment in load_lexicon().fillers_for("lab_safety") if moment]
    a, b = lines[0], lines[1]
    cued = "Later, " + a[:1].lower() + a[1:]
    records = [
        _inst(f"Dana shut the door. {a} {a}"),  # twice in one scenario counts once
        _inst(f"Omar left. {cued}"),
        _inst(f"{b} Omar left."),
        _inst("Nothing but events here. Dana shut the door."),
    ]
    got = filler_recurrence(records)
    assert got["instances"] == 4 and got["max_share"] == 0.5 and got["line"] == a
    assert got["by_domain"]["lab_safety"]["distinct_lines"] == 2
    assert got["mean_lines"] == 0.75


def test_domain_lines_are_counted_within_their_domain() -> None:
    lab_only = load_lexicon().fillers.lab_safety.still[0]
    got = filler_recurrence([_inst(lab_only), _inst("Omar left.", "cms"), _inst(lab_only, "cms")])
    assert got["by_domain"]["lab_safety"]["max_share"] == 1.0
    assert got["by_domain"]["cms"]["max_share"] == 0.0  # not a cms filler line
