"""Shared fixtures: the small hand-written test procedure (tests/procedures/fixtures)."""

from __future__ import annotations

from collections.abc import Iterator
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


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    # Tiny matmuls split over two threads on a busy 2-core machine wait on each other for
    # milliseconds; one thread is far faster for the tiny test models.
    try:
        import torch
    except ImportError:  # the torch-free core can be tested alone
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_model_dir() -> Path:
    """The corpus-trained tiny chat model (built once into the shared proclab cache)."""
    from proclab.models.tiny import tiny_model_path

    return tiny_model_path()
