"""`write_report`: one or more run directories -> `report.md` (+ `figures/*.png`) and one
self-contained `report.html`. Several runs are shown side by side, and each later run is
compared with the first by McNemar's test."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from proclab.errors import ConfigError
from proclab.evaluate.compare import compare_runs
from proclab.evaluate.figures import Series, grouped_bars_png, heatmap_png
from proclab.evaluate.logs import SAMPLES_FILE, Estimate, GridCell, Results, load_results
from proclab.evaluate.metrics import METRICS
from proclab.evaluate.render import Block, Figure, Heading, Para, Table, to_html, to_markdown

HEADLINE = ("accuracy", "balanced_accuracy", "macro_f1", "mcc", "parse_rate")


@dataclass(frozen=True)
class RunView:
    name: str
    path: Path
    results: Results


def load_runs(paths: list[str | Path]) -> list[RunView]:
    """Each run's results; names are the directory names, made unique when they repeat."""
    if not paths:
        raise ConfigError("no run directory given", fix="pass one or more `eval run` --out dirs")
    runs, seen = [], {}
    for p in paths:
        path = Path(p)
        name = path.name or str(path)
        seen[name] = seen.get(name, 0) + 1
        runs.append(RunView(name if seen[name] == 1 else f"{name}#{seen[name]}", path,
                            load_results(path)))
    return runs


def fmt(est: Estimate | None) -> str:
    if est is None or est.value is None:
        return "n/a"
    if est.ci_low is None or est.ci_high is None:
        return f"{est.value:.3f}"
    return f"{est.value:.3f} [{est.ci_low:.3f}, {est.ci_high:.3f}]"


def _series(runs: list[RunView], keys: list[str],
            pick: Callable[[Results, str], Estimate | None]) -> dict[str, Series]:
    """Bar-chart series per run: values and interval ends of `pick(results, key)`."""
    out: dict[str, Series] = {}
    for run in runs:
        ests = [pick(run.results, key) for key in keys]
        out[run.name] = ([e.value if e else None for e in ests],
                         [e.ci_low if e else None for e in ests],
                         [e.ci_high if e else None for e in ests])
    return out


def _overview(runs: list[RunView]) -> list[Block]:
    rows = []
    for run in runs:
        r = run.results
        cfg = r.config
        rows.append([run.name, str(cfg.get("backend")), str(cfg.get("model") or "-"),
                     str(cfg.get("adapter") or "-"), str(r.data.split or "-"),
                     r.data.sha256[:12], f"{r.n}/{r.n_expected}",
                     ", ".join(r.orders.orders), (r.git_hash or "-")[:10]])
    blocks: list[Block] = [
        Heading("Runs"),
        Table(["run", "backend", "model", "adapter", "split", "data sha256", "samples",
               "orders", "git"], rows),
    ]
    if any(not run.results.complete for run in runs):
        blocks.append(Para("Some runs are incomplete (samples < expected): rerun "
                           "`proclab eval run` with the same --out to finish them."))
    return blocks


def _metrics(runs: list[RunView]) -> list[Block]:
    names = [run.name for run in runs]
    rows = [[m] + [fmt(run.results.metrics.get(m)) for run in runs] for m in METRICS]

    low = min([0.0] + [e.ci_low or e.value or 0.0 for run in runs
                       for e in run.results.metrics.values()])
    png = grouped_bars_png(list(HEADLINE), _series(runs, list(HEADLINE), lambda r, k: r.metrics.get(k)), "Headline metrics (95% CI)",
                           "score", ylim=(min(0.0, low - 0.05), 1.05))
    return [
        Heading("Metrics"),
        Para("Values with 95% intervals from a bootstrap that resamples procedures "
             f"({runs[0].results.bootstrap.resamples} resamples); pooled over prompt orders."),
        Table(["metric", *names], rows),
        Figure("metrics", png, "Headline metrics per run with 95% bootstrap intervals"),
        Heading("Per-class recall", 3),
        Table(["class", *names], [
            [label] + [f"{fmt(run.results.per_class[label].recall)} "
                       f"(n={run.results.per_class[label].n})" for run in runs]
            for label in runs[0].results.per_class
        ]),
    ]


def _orders(runs: list[RunView]) -> list[Block]:
    orders = list(dict.fromkeys(o for run in runs for o in run.results.orders.orders))
    rows = [[o] + [fmt(run.results.orders.accuracy.get(o)) for run in runs] for o in orders]
    agree = ["agreement across orders"] + [
        "n/a" if run.results.orders.agreement is None else
        f"{run.results.orders.agreement:.3f} ({run.results.orders.ids_compared} ids)"
        for run in runs
    ]
    consistent = ["correct in every order"] + [
        "n/a" if run.results.orders.all_correct is None else
        f"{run.results.orders.all_correct:.3f}" for run in runs
    ]
    series = _series(runs, orders, lambda r, k: r.orders.accuracy.get(k))
    png = grouped_bars_png(orders, series, "Accuracy per prompt order (95% CI)",
                           "accuracy")
    return [Heading("Prompt-order robustness"),
            Table(["order", *[run.name for run in runs]], rows + [agree, consistent]),
            Figure("orders", png, "Accuracy per prompt block order")]


def _not_applicable(runs: list[RunView], name: str) -> list[Block]:
    return [Para(f"{run.name}: not applicable: {run.results.not_applicable[name]}")
            for run in runs if name in run.results.not_applicable]


def _pairs(runs: list[RunView]) -> list[Block]:
    if all(run.results.pairs is None for run in runs):
        skipped = _not_applicable(runs, "pairs")
        return [Heading("Counterfactual pairs"), *skipped] if skipped else []
    rows = []
    for run in runs:
        p = run.results.pairs
        if p is None:
            rows.append([run.name] + ["n/a"] * 5)
            continue
        rows.append([
            run.name,
            f"{fmt(p.flip.accuracy)} ({p.flip.pairs} pairs)" if p.flip else "n/a",
            f"{fmt(p.preserve.accuracy)} ({p.preserve.pairs} pairs)" if p.preserve else "n/a",
            fmt(p.consistency),
            fmt(p.invariance_flip_rate),
            f"{p.flip.changed_rate:.3f}" if p.flip and p.flip.changed_rate is not None else "n/a",
        ])
    return [Heading("Counterfactual pairs"),
            Para("Flip pairs: a minimal edit flips the label; preserve pairs: it does not. "
                 "Consistency: every member of a pair answered correctly. Invariance flip "
                 "rate: the answer changed on a label-preserving edit (lower is better)."),
            Table(["run", "accuracy (flip)", "accuracy (preserve)", "pair consistency",
                   "invariance flip rate", "answer changed (flip)"], rows)]


def _pivot(cells: list[GridCell]) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    rows = sorted({c.perturbation for c in cells})
    cols = sorted({c.group for c in cells})
    rate = np.full((len(rows), len(cols)), np.nan)
    count = np.zeros((len(rows), len(cols)))
    for c in cells:
        i, j = rows.index(c.perturbation), cols.index(c.group)
        rate[i, j], count[i, j] = c.error_rate, c.n
    return rows, cols, rate, count


def _grid(runs: list[RunView]) -> list[Block]:
    blocks: list[Block] = [
        Heading("Failure-pattern grid"),
        Para("Error rate per perturbation x source and x domain; 'false C' = a NON-COMPLIANT "
             "case answered COMPLIANT, 'false N' = the reverse."),
    ]
    for k, run in enumerate(runs):
        blocks.append(Heading(f"{run.name}", 3))
        if run.results.grid is None:
            blocks += _not_applicable([run], "grid")
            continue
        for axis, cells in (("source", run.results.grid.by_source),
                            ("domain", run.results.grid.by_domain)):
            if not cells:
                continue
            rows, cols, rate, count = _pivot(cells)
            png = heatmap_png(rows, cols, rate, count, f"{run.name}: error rate, "
                              f"perturbation x {axis}")
            blocks.append(Figure(f"grid-{k}-{axis}", png,
                                 f"{run.name}: error rate by perturbation x {axis}"))
        blocks.append(Table(
            ["perturbation", "domain", "n", "error rate", "false C", "false N", "unparsed"],
            [[c.perturbation, c.group, str(c.n), f"{c.error_rate:.3f}", str(c.false_compliant),
              str(c.false_noncompliant), str(c.unparsed)] for c in run.results.grid.by_domain],
        ))
    return blocks


def _breakdowns(runs: list[RunView]) -> list[Block]:
    if not any(run.results.breakdowns for run in runs):
        return []
    blocks: list[Block] = [
        Heading("Breakdowns by metadata column"),
        Para("Accuracy per value of each metadata column of the data (95% CI, the same "
             "clustered bootstrap as the headline metrics)."),
    ]
    for run in runs:
        for column, cells in run.results.breakdowns.items():
            blocks.append(Heading(f"{run.name}: {column}", 3))
            blocks.append(Table(
                [column, "n", "accuracy [95% CI]", "errors", "false C", "false N", "unparsed"],
                [[c.value, str(c.n), fmt(c.accuracy), str(c.errors), str(c.false_compliant),
                  str(c.false_noncompliant), str(c.unparsed)] for c in cells]))
    return blocks


def _comparisons(runs: list[RunView]) -> list[Block]:
    usable = [run for run in runs if (run.path / SAMPLES_FILE).is_file()]
    if len(usable) < 2:
        return []
    rows = []
    for other in usable[1:]:
        c = compare_runs(usable[0].path, other.path)
        rows.append([f"{usable[0].name} vs {other.name}", str(c.shared),
                     f"{c.accuracy_a:.3f}", f"{c.accuracy_b:.3f}", str(c.a_only_correct),
                     str(c.b_only_correct), f"{c.p_value:.4g}",
                     "yes" if c.same_data else "NO"])
    return [Heading("McNemar tests"),
            Table(["runs", "shared samples", "acc A", "acc B", "A only right", "B only right",
                   "p (exact)", "same data"], rows)]


def build_report(runs: list[RunView]) -> list[Block]:
    title = "proclab evaluation report"
    return [Heading(title, 1), *_overview(runs), *_metrics(runs), *_orders(runs),
            *_breakdowns(runs), *_pairs(runs), *_grid(runs), *_comparisons(runs)]


def write_report(run_dirs: list[str | Path], out: str | Path | None = None) -> tuple[Path, Path]:
    """Write report.md (+ figures/) and report.html into `out` (default: the first run dir);
    returns the two paths."""
    runs = load_runs(run_dirs)
    out_dir = Path(out) if out is not None else runs[0].path
    out_dir.mkdir(parents=True, exist_ok=True)
    blocks = build_report(runs)
    figures = out_dir / "figures"
    figures.mkdir(exist_ok=True)
    for block in blocks:
        if isinstance(block, Figure):
            (figures / f"{block.name}.png").write_bytes(block.png)
    md_path, html_path = out_dir / "report.md", out_dir / "report.html"
    md_path.write_text(to_markdown(blocks), encoding="utf-8")
    html_path.write_text(to_html(blocks, "proclab evaluation report"), encoding="utf-8")
    return md_path, html_path
