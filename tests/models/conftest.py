"""A tiny dataset (configs/data/tiny.yaml) built once per session for the pretraining tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from proclab.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pretrain-data") / "data"
    main(["dataset", "build", "--config", str(ROOT / "configs/data/tiny.yaml"),
          "--out", str(out), "--no-progress"])
    return out
