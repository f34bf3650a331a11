"""Files of a head study: `scores.json` (versioned; scores keyed `L{layer}.H{head}`), one
heatmap PNG per condition and score, and `summary.md` naming the top heads with δ and CI."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from proclab.interp.config import SCHEMA_VERSION, InterpConfig
from proclab.interp.pairs import pairs_file
from proclab.interp.stages import STAGES

SCORES_FILE = "scores.json"
SUMMARY_FILE = "summary.md"
_MAPS = {"delta": "δ (logits)", "atp": "AtP estimate of δ", "recovery": "recovery (δ / full flip)"}


def document(cfg: InterpConfig, study: dict[str, Any]) -> dict[str, Any]:
    """The study plus what identifies it: schema version, config, git hash, data sha256."""
    from proclab import __version__
    from proclab.evaluate.runner import git_hash

    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "proclab.interp.heads",
        "proclab": __version__,
        "git": git_hash(),
        "config": cfg.model_dump(mode="json"),
        "pairs_sha256": hashlib.sha256(pairs_file(cfg.pairs).read_bytes()).hexdigest(),
        **study,
    }


def score_grid(condition: dict[str, Any], key: str, layers: int, heads: int) -> np.ndarray:
    """`[layers, heads]` of one per-head score (NaN where missing)."""
    grid = np.full((layers, heads), np.nan)
    for h in condition["heads"].values():
        if h[key] is not None:
            grid[h["layer"], h["head"]] = h[key]
    return grid


def heatmap_png(grid: np.ndarray, title: str) -> bytes:
    """Layers x heads, diverging colours centred on 0, NaN cells blank."""
    import matplotlib

    matplotlib.use("Agg")  # headless; must precede the pyplot import
    import matplotlib.pyplot as plt

    layers, heads = grid.shape
    fig, ax = plt.subplots(figsize=(max(4.0, 0.35 * heads + 2.0), max(3.0, 0.3 * layers + 1.5)))
    bound = float(np.nanmax(np.abs(grid))) if np.isfinite(grid).any() else 1.0
    image = ax.imshow(np.ma.masked_invalid(grid), cmap="RdBu_r", vmin=-bound or -1,
                      vmax=bound or 1, aspect="auto")  # fmt: skip
    ax.set_xlabel("head")
    ax.set_ylabel("layer")
    ax.set_xticks(range(heads), labels=[str(h) for h in range(heads)], fontsize=7)
    ax.set_yticks(range(layers), labels=[str(i) for i in range(layers)], fontsize=7)
    ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def slug(name: str) -> str:
    return name.replace("@", "-").replace(":", "_")


def write_report(doc: dict[str, Any], out: str | Path) -> list[Path]:
    """Write scores.json, the heatmaps and summary.md into `out`; returns the paths written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    layers, heads = doc["layout"]["layers"], doc["layout"]["heads"]
    written = [out / SCORES_FILE]
    written[0].write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    for name, cond in doc["conditions"].items():
        for key, label in _MAPS.items():
            path = out / f"heatmap-{slug(name)}-{key}.png"
            n = cond["pairs"]["kept"]
            path.write_bytes(heatmap_png(score_grid(cond, key, layers, heads),
                                         f"{name}: mean {label}, {n} pairs"))  # fmt: skip
            written.append(path)
    summary = out / SUMMARY_FILE
    summary.write_text(summary_markdown(doc), encoding="utf-8")
    return [*written, summary]


def _fmt(v: float | None, spec: str = "+.3f") -> str:
    return "n/a" if v is None else format(v, spec)


def _ci(ci: list[float | None]) -> str:
    return f"[{_fmt(ci[0])}, {_fmt(ci[1])}]"


def summary_markdown(doc: dict[str, Any]) -> str:
    """The human-readable summary: per condition the top heads, then stages and patterns."""
    cfg = doc["config"]
    lines = [
        "# Head study", "",
        f"Model `{cfg['model']}`" + (f" + adapter `{cfg['adapter']}`" if cfg["adapter"] else ""),
        f"({doc['layout']['layers']} layers x {doc['layout']['heads']} heads); pairs "
        f"`{cfg['pairs']}`. δ = change in logit(base answer) - logit(other answer) when the "
        "head's output is patched from the base prompt into the experimental one; CI = 95% "
        "bootstrap over pairs; p = sign-flip permutation test; q = Benjamini-Hochberg.", "",
    ]  # fmt: skip
    for name, cond in doc["conditions"].items():
        pairs, agree = cond["pairs"], cond["agreement"]
        lines += [
            f"## {name}", "",
            f"{pairs['kept']} pairs kept of {pairs['tried']} tried ({pairs['dropped_filter']} "
            f"failed the correctness filter, {pairs['dropped_unaligned']} unaligned). Clean LD: "
            f"base {_fmt(cond['clean']['ld_base_mean'])}, exp {_fmt(cond['clean']['ld_exp_mean'])}."
            f" AtP vs exact: Spearman {_fmt(agree['spearman'], '.3f')} over all patched heads, "
            f"{_fmt(agree['spearman_top_k'], '.3f')} over AtP's top {agree['k']}; top-{agree['k']}"
            f" overlap {_fmt(agree['top_k_overlap'], '.2f')}.", "",
            "| rank | head | δ | 95% CI | recovery | p | q | AtP |",
            "|---:|---|---:|---|---:|---:|---:|---:|",
        ]  # fmt: skip
        for rank, head in enumerate(cond["top"], start=1):
            h = cond["heads"][head]
            mark = " *" if h["significant"] else ""
            lines.append(
                f"| {rank} | {head}{mark} | {_fmt(h['delta'])} | {_ci(h['delta_ci'])} | "
                f"{_fmt(h['recovery'], '+.2f')} | {_fmt(h['p'], '.4f')} | {_fmt(h['q'], '.4f')} | "
                f"{_fmt(h['atp'])} |"
            )
        lines += ["", "`*` = significant at the configured α after BH.", ""]
    lines += _stage_lines(doc["stages"]) + _attention_lines(doc["attention"])
    return "\n".join(lines) + "\n"


def _stage_lines(stages: dict[str, Any]) -> list[str]:
    lines = ["## Stage candidates (Yang et al.)", ""]
    for stage in STAGES:
        if stage in stages["not_assessed"]:
            lines.append(f"- **{stage}**: not assessed ({stages['not_assessed'][stage]})")
            continue
        rows = stages[stage]
        heads = ", ".join(f"{r['head']} (δ {_fmt(r['delta'])} {_ci(r['delta_ci'])}, "
                          f"{r['condition']})" for r in rows)  # fmt: skip
        lines.append(f"- **{stage}**: {heads or 'no significant head in its layer band'}")
    if stages["unassigned"]:
        rows = ", ".join(f"{r['head']} ({r['band']}, {r['condition']})" for r in stages["unassigned"])
        lines.append(f"- significant outside the expected band: {rows}")
    return [*lines, ""]


def _attention_lines(attention: dict[str, Any]) -> list[str]:
    if not attention:
        return []
    lines = ["## Attention at the decision position (base prompts)", "",
             "| head | procedure | scenario | question | other | entropy | top tokens |",
             "|---|---:|---:|---:|---:|---:|---|"]  # fmt: skip
    for head, a in attention.items():
        m = a["mass"]
        toks = ", ".join(f"`{_cell(t)}` {w:.2f}" for t, w in a["top_tokens"])
        lines.append(f"| {head} | {m['procedure']:.2f} | {m['scenario']:.2f} | "
                     f"{m['question']:.2f} | {m['other']:.2f} | {a['entropy']:.2f} | {toks} |")
    return [*lines, ""]


def _cell(text: str) -> str:
    """A token as a Markdown table cell: no pipes, backticks or line breaks."""
    return text.replace("|", "\\|").replace("`", "'").replace("\n", "\\n")
