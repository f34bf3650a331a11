"""Shared fixtures: the small hand-written test procedure (tests/procedures/fixtures)."""

from __future__ import annotations

from pathlib import Path

import pytest

from proclab.procedures.loader import load_procedure
from proclab.procedures.schema import Procedure

FIXTURES = Path(__file__).parent / "procedures" / "fixtures"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def mini() -> Procedure:
    """tests/procedures/fixtures/mini.yaml: roles clerk < officer < manager; exceptions
    `rush` (replaces 3, adds X1, forbids 6) and `portal-upload` (adds P1); 4 is internal."""
    return load_procedure(FIXTURES / "mini.yaml")


@pytest.fixture(scope="session")
def mini_text() -> str:
    return (FIXTURES / "mini.yaml").read_text(encoding="utf-8")
