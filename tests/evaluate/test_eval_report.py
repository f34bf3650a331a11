"""Reports: Markdown + figures and one self-contained HTML page; a headless-browser check."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess

import numpy as np
import pytest
from tests.evaluate.eval_fakes import make_dataset_dir

from proclab.errors import DataError
from proclab.evaluate.config import make_config
from proclab.evaluate.report import write_report
from proclab.evaluate.runner import run_eval

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    data = make_dataset_dir(root / "data")
    out = []
    for backend in ("oracle", "majority"):
        cfg = make_config(backend=backend, data=str(data), split="test", pairs=True,
                          orders=["PSQ", "SPQ"], resamples=200)
        run_eval(cfg, root / backend)
        out.append(root / backend)
    return out


def _pixels(png: bytes) -> np.ndarray:
    import io

    import matplotlib.image

    return matplotlib.image.imread(io.BytesIO(png), format="png")


def test_markdown_and_html_hold_the_same_figures(runs, tmp_path):
    md_path, html_path = write_report(runs, tmp_path / "rep")
    md, page = md_path.read_text(), html_path.read_text()
    for heading in ("## Metrics", "## Prompt-order robustness", "## Counterfactual pairs",
                    "## Failure-pattern grid", "## McNemar tests"):
        assert heading in md
    # majority (NON-COMPLIANT, from train) is right on the 10 of 24 records that are N
    assert "| accuracy | 1.000 [1.000, 1.000] | 0.417 [" in md
    linked = re.findall(r"!\[[^\]]*\]\(figures/([\w-]+\.png)\)", md)
    assert {"metrics.png", "orders.png", "grid-0-source.png", "grid-1-domain.png"} <= set(linked)
    embedded = [base64.b64decode(b) for b in re.findall(r'src="data:image/png;base64,([^"]+)"',
                                                         page)]
    files = [(tmp_path / "rep" / "figures" / name).read_bytes() for name in linked]
    assert embedded == files
    assert all(png.startswith(PNG_MAGIC) for png in files)
    assert _pixels(files[0]).std() > 0.05  # a real chart, not a blank canvas
    # Self-contained: nothing is fetched from anywhere.
    assert not re.search(r'(src|href)="(?!data:)', page)


def test_single_run_report_defaults_to_the_run_dir(runs):
    md_path, html_path = write_report(runs[:1])
    assert md_path.parent == runs[0] and html_path.is_file()
    assert "## McNemar tests" not in md_path.read_text()


def test_report_needs_results(tmp_path):
    with pytest.raises(DataError, match="no results.json"):
        write_report([tmp_path])


@pytest.mark.browser
def test_html_renders_in_headless_chromium(runs, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("headless Chromium is not installed")
    _, html_path = write_report(runs, tmp_path / "rep")
    shot = tmp_path / "shot.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                    f"--screenshot={shot}", "--window-size=1200,1600",
                    html_path.resolve().as_uri()], check=True, timeout=120,
                   capture_output=True)
    pixels = _pixels(shot.read_bytes())
    assert pixels.std() > 0.01  # not a uniform (blank) page
