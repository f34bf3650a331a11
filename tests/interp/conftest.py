"""Fixtures for the interp tests: the tiny chat model (tests/conftest.py) loaded for probing,
and a hand-written pairs file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.interp.fakes import write_pairs


@pytest.fixture(scope="session")
def tiny(tiny_model_dir: Path) -> tuple[Any, Any]:
    """(model, tokenizer) loaded the way `interp heads` loads them."""
    from proclab.interp.load import load_for_interp

    return load_for_interp(tiny_model_dir, device="cpu")


@pytest.fixture(scope="session")
def pairs_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_pairs(tmp_path_factory.mktemp("pairs") / "pairs.jsonl")
