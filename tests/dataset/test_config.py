"""Build configs: the shipped ones validate and fit the corpus; bad ones fail with every
problem named at once."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from tests.dataset.dataset_fakes import STYLES, make_procedures, tiny_config_dict

from proclab.dataset.config import load_config, parse_config
from proclab.dataset.splits import make_plan, quotas, select_heldout
from proclab.errors import ConfigError, ErrorList

CONFIGS = sorted((Path(__file__).parents[2] / "configs" / "data").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_validate(path: Path) -> None:
    config = load_config(path)
    assert "train" in config.splits
    # The three generalisation splits; the compact view adds seen_procedures (in-distribution).
    generalisation = {"heldout_procedures", "heldout_adversarial", "heldout_style"}
    assert generalisation <= set(config.heldout_splits())
    assert set(config.heldout_splits()) - generalisation <= {"seen_procedures"}


def test_default_config_recipe() -> None:
    config = load_config(Path(__file__).parents[2] / "configs/data/default.yaml")
    assert len(config.cohorts) >= 6
    assert sum(c.size for c in config.cohorts) >= 9013
    assert config.heldout.styles == ["step_cards"]
    assert config.dedup.threshold == 0.8


def test_unknown_perturbation_gets_a_suggestion() -> None:
    raw = tiny_config_dict()
    raw["cohorts"][1]["perturbations"] = {"baseline_compliant": 1, "exeption_trigger": 2}
    with pytest.raises(ErrorList) as info:
        parse_config(raw)
    assert "unknown perturbation type 'exeption_trigger'" in str(info.value)
    assert "did you mean 'exception_trigger'" in str(info.value)


def test_probe_goals_default_and_copy_exempt_is_checked() -> None:
    config = load_config(Path(__file__).parents[2] / "configs/data/default.yaml")
    assert (config.probes.overlap_goal, config.probes.copy_goal) == (0.65, 0.10)
    assert config.probes.copy_exempt == ["adversarial_surface_noncompliant"]
    raw = tiny_config_dict()
    raw["probes"] = {"copy_exempt": ["adversarial_surface_noncomplaint"], "overlap_goal": 1.5}
    with pytest.raises(ErrorList) as info:
        parse_config(raw)
    message = str(info.value)
    assert "probes.copy_exempt" in message and "probes.overlap_goal" in message
    assert "did you mean 'adversarial_surface_noncompliant'" in message


def test_every_problem_is_reported_at_once() -> None:
    raw = tiny_config_dict()
    raw["cohorts"][1]["seed"] = raw["cohorts"][0]["seed"]  # overlapping seeds
    raw["splits"]["heldout_style"] = ["heldout_styel"]  # unknown cohort
    raw["cohorts"][2]["perturbations"] = {"baseline_compliant": 0}  # nothing to draw
    with pytest.raises(ErrorList) as info:
        parse_config(raw)
    text = str(info.value)
    assert len(info.value.errors) == 4  # + heldout_style now in no split
    assert "seed 1 is also the seed of cohort 'train_a'" in text
    assert "unknown cohort 'heldout_styel' (did you mean 'heldout_style'?)" in text
    assert "all perturbation weights are zero" in text
    assert "cohort 'heldout_style' is in no split" in text


def test_schema_errors_name_the_field() -> None:
    raw = tiny_config_dict()
    raw["cohorts"][0]["size"] = 0
    raw["cohorts"][0]["colour"] = "blue"
    with pytest.raises(ErrorList) as info:
        parse_config(raw)
    text = str(info.value)
    assert "cohorts.0.size" in text and "cohorts.0.colour" in text


def test_cohort_in_two_splits() -> None:
    raw = tiny_config_dict()
    raw["splits"]["heldout_style"] = ["heldout_style", "train_a"]
    with pytest.raises(ErrorList, match="cohort 'train_a' is in splits 'train' and"):
        parse_config(raw)


def test_yaml_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\ncohorts: [\n  - {name: a\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert f"{path}:" in str(info.value)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")


def test_unknown_procedure_and_style_against_the_corpus() -> None:
    raw = tiny_config_dict()
    raw["cohorts"][0]["procedures"] = ["lab-spil", "lab-spill"]
    raw["cohorts"][1]["styles"] = ["checklists"]
    with pytest.raises(ErrorList) as info:
        make_plan(parse_config(raw), make_procedures(), STYLES)
    text = str(info.value)
    assert "unknown procedure 'lab-spil' (did you mean 'lab-spill'?)" in text
    assert "unknown house style 'checklists' (did you mean 'checklist'?)" in text


def test_training_cohort_may_not_touch_heldout_procedures_or_styles() -> None:
    procs = make_procedures()
    raw = tiny_config_dict()
    heldout = select_heldout(parse_config(raw), procs)
    raw["cohorts"][0]["procedures"] = [heldout[0]]
    raw["cohorts"][1]["styles"] = ["step_cards"]
    raw["cohorts"][2]["procedures"] = "all"
    with pytest.raises(ErrorList) as info:
        make_plan(parse_config(raw), procs, STYLES)
    text = str(info.value)
    assert "training cohort uses held-out procedures" in text
    assert "training cohort uses held-out style(s) ['step_cards']" in text
    assert "held-out cohort uses training procedures" in text


def test_heldout_selection_is_per_domain_and_seeded() -> None:
    procs = make_procedures()
    config = parse_config(tiny_config_dict())
    chosen = select_heldout(config, procs)
    assert chosen == select_heldout(config, list(reversed(procs)))
    domains = {p.domain for p in procs if p.id in chosen}
    assert domains == {"lab_safety", "fda", "cms"}
    other = parse_config(tiny_config_dict(heldout={"fraction_per_domain": 0.34, "seed": 99}))
    assert len(select_heldout(other, procs)) == len(chosen)


def test_plan_puts_training_first_and_removes_heldout_styles() -> None:
    plan = make_plan(parse_config(tiny_config_dict()), make_procedures(), STYLES)
    assert [c.split for c in plan.cohorts][:2] == ["train", "train"]
    train_styles = {
        s for c in plan.cohorts if c.split == "train" for v in c.styles.values() for s in v
    }
    assert "step_cards" not in train_styles
    assert train_styles == {"terse_numbered", "checklist", "fda_manual", "cms_manual"}
    style_cohort = next(c for c in plan.cohorts if c.cohort.name == "heldout_style")
    assert set(style_cohort.styles.values()) == {("step_cards",)}
    assert not set(plan.train_procedures) & set(plan.heldout_procedures)


@pytest.mark.parametrize("size", [1, 7, 36, 1001])
def test_quotas_sum_to_size_and_follow_weights(size: int) -> None:
    raw = tiny_config_dict()
    raw["cohorts"][0]["size"] = size
    raw["cohorts"][0]["perturbations"] = {
        "baseline_compliant": 5,
        "baseline_noncompliant": 3,
        "exception_trigger": 3,
    }
    q = quotas(parse_config(raw).cohorts[0])
    assert sum(q.values()) == size
    assert list(q) == ["baseline_compliant", "baseline_noncompliant", "exception_trigger"]
    for p, w in (("baseline_compliant", 5), ("baseline_noncompliant", 3)):
        assert abs(q[p] - size * w / 11) < 1


def test_config_round_trips_through_yaml(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(tiny_config_dict()), encoding="utf-8")
    assert load_config(path).sha256() == parse_config(tiny_config_dict()).sha256()
