"""`proclab dataset ...`: build (on the fake upstream), stats, audit, sample, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from tests.dataset.dataset_fakes import fake_upstream, tiny_config_dict

from proclab.cli import main
from proclab.dataset import build as build_module


def run(argv: list[str]) -> int:
    try:
        main(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return 0


@pytest.fixture(scope="module")
def config_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cfg") / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny_config_dict()), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def built_dir(tmp_path_factory, config_file) -> Path:
    out = tmp_path_factory.mktemp("cli") / "data"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(build_module, "default_upstream", fake_upstream)
        assert (
            run(
                [
                    "dataset",
                    "build",
                    "--config",
                    str(config_file),
                    "--out",
                    str(out),
                    "--no-progress",
                ]
            )
            == 0
        )
    return out


def test_build_writes_every_file(built_dir: Path) -> None:
    names = {p.name for p in built_dir.iterdir()}
    assert {
        "train.jsonl",
        "train.parquet",
        "heldout_style.jsonl",
        "pairs.jsonl",
        "manifest.json",
        "audit.json",
        "probes.json",
        "datacard.md",
        "timings.json",
        "probes",
    } <= names


def test_stats_json(built_dir: Path, capsys) -> None:
    assert run(["dataset", "stats", str(built_dir), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["splits"] == {
        "train": 180,
        "heldout_adversarial": 30,
        "heldout_procedures": 40,
        "heldout_style": 30,
    }
    assert sum(c["n"] for c in stats["cells"]) == 280
    assert all(c["n"] == c["COMPLIANT"] + c["NON-COMPLIANT"] for c in stats["cells"])


def test_stats_tables(built_dir: Path, capsys) -> None:
    assert run(["dataset", "stats", str(built_dir)]) == 0
    out = capsys.readouterr().out
    assert "split x perturbation" in out and "accept rate" in out


def test_audit_recomputes_the_stored_report(built_dir: Path, capsys) -> None:
    assert run(["dataset", "audit", str(built_dir), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    stored = json.loads((built_dir / "audit.json").read_text())
    assert report == stored and report["pairs_above_threshold"] == 0


def test_sample_filters_by_perturbation(built_dir: Path, capsys) -> None:
    assert (
        run(["dataset", "sample", str(built_dir), "-n", "2", "--perturbation", "exception_trigger"])
        == 0
    )
    out = capsys.readouterr().out
    assert out.count("exception_trigger") >= 2 and "Scenario" in out and "Label" in out


def test_sample_unknown_perturbation_exits_2(built_dir: Path, capsys) -> None:
    assert run(["dataset", "sample", str(built_dir), "--perturbation", "baseline_compliat"]) == 2
    assert "did you mean 'baseline_compliant'" in capsys.readouterr().err


def test_bad_config_exits_2_and_writes_nothing(tmp_path: Path, capsys) -> None:
    raw = tiny_config_dict()
    raw["cohorts"][0]["perturbations"] = {"baseline_compliant": 1, "adversarial": 1}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    assert run(["dataset", "build", "--config", str(path), "--out", str(tmp_path / "o")]) == 2
    assert "unknown perturbation type 'adversarial'" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_different_build_in_out_dir_is_refused_before_building(
    built_dir: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    path = tmp_path / "other.yaml"
    path.write_text(yaml.safe_dump(tiny_config_dict(name="other")), encoding="utf-8")

    def no_build(*args, **kwargs):
        raise AssertionError("must refuse before generating anything")

    monkeypatch.setattr(build_module, "default_upstream", no_build)
    before = (built_dir / "manifest.json").read_bytes()
    assert run(["dataset", "build", "--config", str(path), "--out", str(built_dir)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (built_dir / "manifest.json").read_bytes() == before


def test_missing_dataset_dir_exits_2(tmp_path: Path, capsys) -> None:
    assert run(["dataset", "stats", str(tmp_path)]) == 2
    assert "manifest.json missing" in capsys.readouterr().err
