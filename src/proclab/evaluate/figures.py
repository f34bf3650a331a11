"""Report figures as PNG bytes (matplotlib, Agg backend, no display needed): error-rate
heatmaps of the failure grid and grouped bar charts with interval whiskers."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np

Series = tuple[Sequence[float | None], Sequence[float | None], Sequence[float | None]]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # headless; must precede the pyplot import
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    buf = io.BytesIO()
    # No "Software" tag: same inputs give byte-identical files across matplotlib patch releases.
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    _pyplot().close(fig)
    return buf.getvalue()


def _nan(values: Sequence[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def heatmap_png(rows: Sequence[str], cols: Sequence[str], rate: np.ndarray,
                count: np.ndarray, title: str) -> bytes:
    """Error rate per cell (rows x cols; NaN = empty cell), each cell annotated 'rate\\nn=..'."""
    plt = _pyplot()
    width = max(4.5, 1.0 + 0.9 * len(cols))
    height = max(2.5, 0.9 + 0.42 * len(rows))
    fig, ax = plt.subplots(figsize=(width, height))
    masked = np.ma.masked_invalid(rate)
    image = ax.imshow(masked, cmap="Reds", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(cols)), labels=list(cols), rotation=35, ha="right", fontsize=8)
    ax.set_yticks(range(len(rows)), labels=list(rows), fontsize=8)
    for i in range(len(rows)):
        for j in range(len(cols)):
            if count[i, j] > 0:
                dark = rate[i, j] > 0.6
                ax.text(j, i, f"{rate[i, j]:.2f}\nn={int(count[i, j])}", ha="center",
                        va="center", fontsize=6.5, color="white" if dark else "black")
    fig.colorbar(image, ax=ax, label="error rate", fraction=0.04)
    ax.set_title(title, fontsize=10)
    return _png(fig)


def grouped_bars_png(groups: Sequence[str], series: dict[str, Series], title: str,
                     ylabel: str, ylim: tuple[float, float] = (0.0, 1.05)) -> bytes:
    """One bar per (group, series) with whiskers from the interval; series = run names."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(5.0, 1.2 + 0.8 * len(groups) * max(1, len(series))),
                                    3.4))
    width = 0.8 / max(1, len(series))
    x = np.arange(len(groups))
    for k, (name, (values, lows, highs)) in enumerate(series.items()):
        val, low, high = _nan(values), _nan(lows), _nan(highs)
        err = np.vstack([np.where(np.isnan(low), 0, val - low),
                         np.where(np.isnan(high), 0, high - val)])
        err = np.where(np.isnan(err), 0, err)
        ax.bar(x + (k - (len(series) - 1) / 2) * width, np.nan_to_num(val), width,
               yerr=err, capsize=3, label=name)
    ax.set_xticks(x, labels=list(groups), rotation=20, ha="right", fontsize=8)
    ax.set_ylim(*ylim)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    if len(series) > 1:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _png(fig)
