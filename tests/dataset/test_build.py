"""The builder on a fake upstream: exact counts, split hygiene, determinism, atomic output."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from tests.dataset.dataset_fakes import fake_upstream, tiny_config_dict

from proclab.dataset import output
from proclab.dataset.build import build
from proclab.dataset.config import parse_config
from proclab.dataset.output import write_build
from proclab.dataset.records import FIELDS, load_split, read_parquet
from proclab.errors import ConfigError
from proclab.scenarios.types import Rejection

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    config = parse_config(tiny_config_dict())
    result = build(config, upstream=fake_upstream())
    out = write_build(result, tmp_path_factory.mktemp("ds") / "data")
    return config, result, out


def test_each_cohort_contributes_exactly_its_size(built) -> None:
    config, result, _ = built
    cohorts = Counter(r.cohort for split in result.splits.values() for r in split)
    assert cohorts == {c.name: c.size for c in config.cohorts}
    assert {s: len(v) for s, v in result.splits.items()} == {
        "train": 180,
        "heldout_adversarial": 30,
        "heldout_procedures": 40,
        "heldout_style": 30,
    }


def test_heldout_procedures_and_style_never_reach_training(built) -> None:
    _, result, _ = built
    train = result.splits["train"]
    heldout = [r for s, v in result.splits.items() if s != "train" for r in v]
    assert {r.procedure_id for r in train}.isdisjoint({r.procedure_id for r in heldout})
    assert {r.procedure_id for r in heldout} == set(result.plan.heldout_procedures)
    assert "step_cards" not in {r.source for r in train}
    assert {r.source for r in result.splits["heldout_style"]} == {"step_cards"}
    others = result.splits["heldout_procedures"] + result.splits["heldout_adversarial"]
    assert "step_cards" not in {r.source for r in others}


def test_mixed_perturbations_are_label_balanced_and_quotas_exact(built) -> None:
    config, result, _ = built
    cohort = next(c for c in result.plan.cohorts if c.cohort.name == "train_b")
    records = [r for r in result.splits["train"] if r.cohort == "train_b"]
    assert Counter(r.perturbation for r in records) == cohort.quotas
    labels = Counter(r.label for r in records if r.perturbation == "exception_trigger")
    quota = cohort.quotas["exception_trigger"]
    assert labels == {"COMPLIANT": (quota + 1) // 2, "NON-COMPLIANT": quota // 2}


def test_no_duplicates_and_unique_ids(built) -> None:
    _, result, _ = built
    records = [r for v in result.splits.values() for r in v]
    assert len({r.id for r in records + result.pairs}) == len(records) + len(result.pairs)
    assert len({(r.procedure_text, r.scenario_text) for r in records}) == len(records)
    assert result.audit["pairs_above_threshold"] == 0 and result.audit["passed"]


def test_pairs_for_every_split_with_pairs(built) -> None:
    _, result, _ = built
    assert {r.split for r in result.pairs} == {"train", "heldout_procedures"}
    by_pair = Counter(r.pair_id for r in result.pairs)
    assert set(by_pair.values()) == {2}
    assert {r.pair_role for r in result.pairs} == {"base", "flip"}


def test_files_jsonl_and_parquet_agree(built) -> None:
    _, result, out = built
    for split in (*result.splits, "pairs"):
        assert load_split(out, split) == read_parquet(out / f"{split}.parquet")
    assert load_split(out, "train") == result.splits["train"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["total_records"] == 280
    style = manifest["splits"]["heldout_style"]
    assert style == {
        "records": 30,
        "distinct_scenarios": style["distinct_scenarios"],
        "heldout": True,
        "cohorts": ["heldout_style"],
    }
    assert 0 < style["distinct_scenarios"] <= 30
    card = (out / "datacard.md").read_text()
    for heading in (
        "## Acceptance",
        "## Leakage audit: PASSED",
        "## Shortcut probes",
        "## Copied text",
        "## Recurring lines",
        "lexical overlap: highest held-out split accuracy",
        "## Deduplication",
        "| train | lab_safety |",
    ):
        assert heading in card


def test_loadable_with_datasets(built, tmp_path) -> None:
    datasets = pytest.importorskip("datasets")
    _, result, out = built
    for kind in ("json", "parquet"):
        ext = "jsonl" if kind == "json" else "parquet"
        files = {s: str(out / f"{s}.{ext}") for s in result.splits}
        ds = datasets.load_dataset(kind, data_files=files, cache_dir=str(tmp_path / kind))
        assert ds["heldout_style"].num_rows == 30
        assert list(ds["train"].column_names) == list(FIELDS)
        assert ds["train"][0]["id"] == result.splits["train"][0].id


def _files(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file() and p.name != "timings.json"
    }


def test_rebuild_is_byte_identical_even_in_another_process(built, tmp_path) -> None:
    config, _, out = built
    again = write_build(build(config, upstream=fake_upstream()), tmp_path / "again")
    assert _files(again) == _files(out)
    script = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from dataset_fakes import fake_upstream, tiny_config_dict\n"
        "from proclab.dataset.build import build\n"
        "from proclab.dataset.config import parse_config\n"
        "from proclab.dataset.output import write_build\n"
        "write_build(build(parse_config(tiny_config_dict()), upstream=fake_upstream()),"
        " sys.argv[2])\n"
    )
    env = dict(os.environ, PYTHONHASHSEED="12345")
    subprocess.run(
        [sys.executable, "-c", script, str(HERE), str(tmp_path / "proc")], check=True, env=env
    )
    assert _files(tmp_path / "proc") == _files(out)
    assert (tmp_path / "proc" / "timings.json").is_file()


def test_size_beyond_available_variants_says_how_many(tmp_path) -> None:
    raw = tiny_config_dict()
    raw["cohorts"][0].update(
        size=600,
        patience=8,
        perturbations={
            "baseline_compliant": 1,
            "baseline_noncompliant": 1,
            "step_reorder_invalid": 1,
        },
    )
    with pytest.raises(ConfigError) as info:
        build(parse_config(raw), upstream=fake_upstream(variety=1, reject_rate=0.0))
    text = str(info.value)
    assert "cohort 'train_a' asks for 600 instances but its 8 procedures yield only" in text
    yielded = int(re.search(r"yield only (\d+) distinct", text).group(1))
    cap = int(re.search(r"at most about (\d+) are possible", text).group(1))
    assert 0 < cap <= yielded < 600
    assert f"set size to at most {cap}" in text


def test_a_perturbation_that_never_applies_is_named() -> None:
    # As for exception_trigger on procedures without exceptions: every draw is rejected.
    upstream = fake_upstream()

    def generate(proc, perturbation, rng, *, mix=None):
        if perturbation == "exception_trigger":
            return Rejection(proc.id, perturbation, "not_applicable", "no exceptions")
        return upstream.generate(proc, perturbation, rng, mix=mix)

    raw = tiny_config_dict()
    raw["cohorts"][0]["patience"] = 5
    with pytest.raises(ConfigError) as info:
        build(parse_config(raw), upstream=upstream, generator=generate)
    assert "cohort 'train_a'" in str(info.value)
    assert "exception_trigger: 0 of 12" in str(info.value)
    assert "drop exception_trigger from the mix" in str(info.value)


def test_out_dir_holding_another_build_is_refused(built, tmp_path) -> None:
    config, result, out = built
    other = parse_config(tiny_config_dict(name="another"))
    with pytest.raises(ConfigError, match="holds a different build"):
        output.check_out_dir(out, other, overwrite=False)
    output.check_out_dir(out, other, overwrite=True)
    output.check_out_dir(out, config, overwrite=False)  # same build: may be rewritten
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="holds no proclab dataset"):
        output.check_out_dir(foreign, config, overwrite=True)


def test_overwrite_replaces_a_different_build(built, tmp_path) -> None:
    config, result, out = built
    target = tmp_path / "data"
    write_build(result, target)
    small = build(parse_config(tiny_config_dict(name="small")), upstream=fake_upstream())
    with pytest.raises(ConfigError):
        write_build(small, target)
    write_build(small, target, overwrite=True)
    assert json.loads((target / "manifest.json").read_text())["name"] == "small"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_failed_write_leaves_nothing_behind(built, tmp_path, monkeypatch) -> None:
    _, result, _ = built

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(output, "render_datacard", boom)
    with pytest.raises(OSError, match="disk full"):
        write_build(result, tmp_path / "data")
    assert list(tmp_path.iterdir()) == []
