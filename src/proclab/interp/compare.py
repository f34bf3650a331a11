"""Compare two head studies head by head (e.g. the SFT and GRPO students on the same pairs).

Per condition both studies ran, each head's difference of mean δ (B - A). Over pairs both kept,
the test is paired (sign flips of the per-pair differences); with no shared pair it falls back to
a two-sample label permutation. Outputs: `compare.json`, one heatmap per condition, `compare.md`.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from proclab.errors import DataError
from proclab.interp import stats
from proclab.interp.config import SCHEMA_VERSION
from proclab.interp.hooks import head_name
from proclab.interp.report import SCORES_FILE, heatmap_png, slug


def load_scores(run_dir: str | Path) -> dict[str, Any]:
    """A study's scores.json (from `proclab interp heads`)."""
    path = Path(run_dir) / SCORES_FILE
    if not path.is_file():
        raise DataError("no scores.json here", where=str(run_dir),
                        fix="pass a folder written by `proclab interp heads --out`")  # fmt: skip
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DataError(f"not JSON: {err}", where=str(path), fix="rerun the study") from None
    if doc.get("kind") != "proclab.interp.heads" or doc.get("schema_version") != SCHEMA_VERSION:
        raise DataError("not a head-study scores file of this proclab version", where=str(path),
                        fix="rerun `proclab interp heads` with this version")  # fmt: skip
    return doc


def _per_pair(cond: dict[str, Any]) -> tuple[list[str], np.ndarray]:
    delta = np.array(cond["per_pair"]["delta"], dtype=np.float64)  # None -> nan
    return cond["per_pair"]["pair_ids"], delta


def _two_sample_p(a: np.ndarray, b: np.ndarray, rng: np.random.Generator, n: int) -> np.ndarray:
    pooled = np.concatenate([a, b]).reshape(len(a) + len(b), -1)
    observed = np.abs(pooled[len(a):].mean(0) - pooled[: len(a)].mean(0))
    extreme = np.zeros(pooled.shape[1])
    for _ in range(n):
        perm = pooled[rng.permutation(len(pooled))]
        extreme += np.abs(perm[len(a):].mean(0) - perm[: len(a)].mean(0)) >= observed - 1e-12
    return ((extreme + 1) / (n + 1)).reshape(a.shape[1:])


def _unpaired_ci(da: np.ndarray, db: np.ndarray, rng: np.random.Generator,
                 resamples: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Difference of means (B - A) and a bootstrap interval resampling each study's pairs."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # unpatched heads: all-NaN columns
        mean = np.nanmean(db, axis=0) - np.nanmean(da, axis=0)
        boots = [np.nanmean(db[rng.integers(0, len(db), len(db))], 0)
                 - np.nanmean(da[rng.integers(0, len(da), len(da))], 0)
                 for _ in range(max(resamples, 1))]  # fmt: skip
        return mean, np.nanquantile(boots, 0.025, axis=0), np.nanquantile(boots, 0.975, axis=0)


def compare_condition(a: dict[str, Any], b: dict[str, Any], rng: np.random.Generator, *,
                      resamples: int = 2000, permutations: int = 2000,
                      alpha: float = 0.05) -> dict[str, Any]:  # fmt: skip
    """Head-by-head difference (B - A) of one condition."""
    ids_a, da = _per_pair(a)
    ids_b, db = _per_pair(b)
    shared = [i for i in ids_a if i in set(ids_b)]
    if shared:
        ia, ib = [ids_a.index(i) for i in shared], [ids_b.index(i) for i in shared]
        diffs = db[ib] - da[ia]
        mean, lo, hi = stats.mean_ci(diffs, rng, resamples=resamples)
        p = stats.sign_flip_p(diffs, rng, permutations=permutations)
    else:
        mean, lo, hi = _unpaired_ci(da, db, rng, resamples)
        p = _two_sample_p(da, db, rng, permutations)
    q = stats.bh_qvalues(p)
    heads = {}
    for (layer, head), _ in np.ndenumerate(mean):
        name = head_name(layer, head)
        heads[name] = {
            "layer": layer, "head": head,
            "a": a["heads"][name]["delta"], "b": b["heads"][name]["delta"],
            "delta": _num(mean[layer, head]), "delta_ci": [_num(lo[layer, head]), _num(hi[layer, head])],
            "p": _num(p[layer, head]), "q": _num(q[layer, head]),
            "significant": bool(q[layer, head] <= alpha) if not np.isnan(q[layer, head]) else False,
        }  # fmt: skip
    names = list(heads)
    return {"paired": bool(shared), "shared_pairs": len(shared), "pair_set": a["pair_set"],
            "span": a["span"], "heads": heads,
            "top": [names[i] for i in stats.top_k(mean, 10)]}  # fmt: skip


def _num(v: float) -> float | None:
    return None if np.isnan(v) else round(float(v), 6)


def compare_studies(run_a: str | Path, run_b: str | Path, *, seed: int = 0) -> dict[str, Any]:
    """The comparison document of two study folders (same architecture required)."""
    a, b = load_scores(run_a), load_scores(run_b)
    if (a["layout"]["layers"], a["layout"]["heads"]) != (b["layout"]["layers"], b["layout"]["heads"]):
        raise DataError(
            f"the studies have different head layouts ({a['layout']} vs {b['layout']})",
            fix="compare models of one architecture (e.g. two adapters on the same base)",
        )
    common = [name for name in a["conditions"] if name in b["conditions"]]
    if not common:
        raise DataError("the two studies share no condition",
                        fix="run both with the same --span and --mapping settings")  # fmt: skip
    rng = np.random.default_rng(seed)
    cfg = a["config"]
    return {
        "schema_version": SCHEMA_VERSION, "kind": "proclab.interp.compare",
        "a": {"path": str(run_a), "model": cfg["model"], "adapter": cfg["adapter"]},
        "b": {"path": str(run_b), "model": b["config"]["model"], "adapter": b["config"]["adapter"]},
        "same_pairs_file": a["pairs_sha256"] == b["pairs_sha256"],
        "layout": a["layout"],
        "conditions": {name: compare_condition(a["conditions"][name], b["conditions"][name], rng,
                                               resamples=cfg["resamples"],
                                               permutations=cfg["permutations"],
                                               alpha=cfg["alpha"])
                       for name in common},
    }  # fmt: skip


def write_comparison(doc: dict[str, Any], out: str | Path) -> list[Path]:
    """compare.json, `heatmap-<condition>-diff.png` and compare.md into `out`."""
    from proclab.interp.report import score_grid

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "compare.json"]
    paths[0].write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    layers, heads = doc["layout"]["layers"], doc["layout"]["heads"]
    lines = ["# Head comparison", "",
             f"A = `{doc['a']['path']}`, B = `{doc['b']['path']}`; δ difference is B - A.", ""]
    for name, cond in doc["conditions"].items():
        path = out / f"heatmap-{slug(name)}-diff.png"
        path.write_bytes(heatmap_png(score_grid(cond, "delta", layers, heads),
                                     f"{name}: mean δ, B - A"))  # fmt: skip
        paths.append(path)
        test = (f"paired over {cond['shared_pairs']} shared pairs" if cond["paired"]
                else "unpaired (no shared pair)")  # fmt: skip
        lines += [f"## {name} ({test})", "", "| head | δ A | δ B | B - A | 95% CI | q |",
                  "|---|---:|---:|---:|---|---:|"]  # fmt: skip
        for head in cond["top"]:
            h = cond["heads"][head]
            lines.append(f"| {head}{' *' if h['significant'] else ''} | {_f(h['a'])} | "
                         f"{_f(h['b'])} | {_f(h['delta'])} | [{_f(h['delta_ci'][0])}, "
                         f"{_f(h['delta_ci'][1])}] | {_f(h['q'], '.4f')} |")  # fmt: skip
        lines.append("")
    paths.append(out / "compare.md")
    paths[-1].write_text("\n".join(lines) + "\n", encoding="utf-8")
    return paths


def _f(v: float | None, spec: str = "+.3f") -> str:
    return "n/a" if v is None else format(v, spec)
