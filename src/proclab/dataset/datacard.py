"""The datacard: a Markdown description written next to the data.

Counts per split x domain x source x perturbation with label balance, accept rates, dedup
counts, the leakage audit, the shortcut probes, copied text and recurring lines (the last three
rendered by `probecard.py`). Rendered only from the manifest, audit and probe reports, so the
same build always yields the same text.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from proclab.dataset.dedup import NEAR_DUPLICATE_RULE
from proclab.dataset.mdtable import fmt as _fmt
from proclab.dataset.mdtable import table as _table
from proclab.dataset.probecard import render_probes

_C, _N = "COMPLIANT", "NON-COMPLIANT"


def count_cells(records: Iterable[Any]) -> list[dict[str, Any]]:
    """Rows {split, domain, source, perturbation, n, COMPLIANT, NON-COMPLIANT}, sorted."""
    counts: Counter[tuple[str, str, str, str, str]] = Counter()
    for r in records:
        get = r.get if isinstance(r, dict) else lambda k, r=r: getattr(r, k)
        counts[get("split"), get("domain"), get("source"), get("perturbation"), get("label")] += 1
    cells: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for (split, domain, source, pert, label), n in sorted(counts.items()):
        row = cells.setdefault(
            (split, domain, source, pert),
            {
                "split": split,
                "domain": domain,
                "source": source,
                "perturbation": pert,
                "n": 0,
                _C: 0,
                _N: 0,
            },
        )
        row["n"] += n
        row[label] = row.get(label, 0) + n
    return list(cells.values())


def margin(cells: Sequence[dict[str, Any]], *keys: str) -> list[dict[str, Any]]:
    """Sum `cells` over every key not in `keys`."""
    out: dict[tuple, dict[str, Any]] = {}
    for cell in cells:
        k = tuple(cell[key] for key in keys)
        row = out.setdefault(k, {key: cell[key] for key in keys} | {"n": 0, _C: 0, _N: 0})
        for f in ("n", _C, _N):
            row[f] += cell[f]
    return [out[k] for k in sorted(out)]


def render_datacard(manifest: dict, audit: dict, probes: dict) -> str:
    parts = [
        _header(manifest),
        _splits(manifest),
        _counts(manifest["cells"]),
        _accept(manifest["accept"]),
        _dedup(manifest),
        _audit(audit),
        render_probes(probes),
        _pairs(manifest["pairs"]),
        _files(manifest),
    ]
    return "\n\n".join(p.rstrip() for p in parts) + "\n"


def _share(row: dict[str, Any]) -> float | None:
    return row[_C] / row["n"] if row["n"] else None


def _header(m: dict) -> str:
    return f"""# Datacard: `{m["name"]}`

proclab procedural-compliance benchmark: {m["total_records"]} instances and
{m["pairs"]["pairs"]} counterfactual pairs. Schema version {m["schema_version"]}, proclab
{m["proclab_version"]}, config sha256 `{m["config_sha256"]}`.

Each instance gives a written procedure (`procedure_text`, rendered in house style `source`), a
scenario narrating what someone did (`scenario_text`) and the question:

> {m["question"]}

The gold `label` (COMPLIANT / NON-COMPLIANT) and `violations` come from proclab's checker run
on the scenario's event `trace` and `context`; the generator's intent and the checker agree on
every instance (see accept rates). `context` and `meta` are JSON strings in both JSONL and
Parquet."""


def _splits(m: dict) -> str:
    rows = []
    for split, info in m["splits"].items():
        split_cells = [c for c in m["cells"] if c["split"] == split]
        total = margin(split_cells)
        rows.append(
            [
                split,
                "held out" if info["heldout"] else "train",
                ", ".join(info["cohorts"]),
                info["records"],
                info.get("distinct_scenarios"),
                _share(total[0]) if total else None,
                len({c["source"] for c in split_cells}),
            ]
        )
    heldout = ", ".join(f"`{p}`" for p in m["heldout_procedures"]) or "none"
    styles = ", ".join(f"`{s}`" for s in m["heldout_styles"]) or "none"
    return f"""## Splits

{
        _table(
            [
                "split",
                "role",
                "cohorts",
                "instances",
                "distinct scenarios",
                "share COMPLIANT",
                "sources",
            ],
            rows,
        )
    }

Instances are unique as (procedure text, scenario) pairs; instances that share a scenario
show it against the procedure in different house styles.

Held-out procedures (never in training; {len(m["heldout_procedures"])} of
{len(m["heldout_procedures"]) + len(m["train_procedures"])}, chosen per domain): {heldout}.

House styles held out: {styles}; only cohorts that name them (the style-held-out view) use
them, never training or the other held-out views. Held-out cohorts use only held-out procedures,
so the style-held-out view is measured on unseen procedures, where no training scenario can
reappear in a new style: comparing it with the same procedures in seen styles isolates the
effect of the unseen style."""


def _counts(cells: list[dict]) -> str:
    def rows(keys: Sequence[str]) -> list[list[Any]]:
        return [
            [r[k] for k in keys] + [r["n"], r[_C], r[_N], _share(r)] for r in margin(cells, *keys)
        ]

    tail = ["n", "C", "N", "share C"]
    full = [
        [c["split"], c["domain"], c["source"], c["perturbation"], c["n"], c[_C], c[_N], _share(c)]
        for c in cells
    ]
    return f"""## Counts and label balance

By split x domain:

{_table(["split", "domain", *tail], rows(["split", "domain"]))}

By split x source:

{_table(["split", "source", *tail], rows(["split", "source"]))}

By split x perturbation:

{_table(["split", "perturbation", *tail], rows(["split", "perturbation"]))}

<details><summary>Every split x domain x source x perturbation cell ({len(cells)})</summary>

{_table(["split", "domain", "source", "perturbation", *tail], full)}

</details>"""


def _reasons(counts: dict[str, int]) -> str:
    return ", ".join(f"{r} {n}" for r, n in counts.items()) or "none"


def _accept_rows(block: dict[str, dict]) -> list[list[Any]]:
    return [
        [
            k,
            v["drawn"],
            v["accepted"],
            v["accept_rate"],
            v["kept"],
            _reasons(v["rejections"]),
        ]
        for k, v in block.items()
    ]


def _accept(acc: dict) -> str:
    heads = ["drawn", "accepted", "accept rate", "kept", "rejections"]
    cells = [
        [
            c["domain"],
            c["source"],
            c["perturbation"],
            c["drawn"],
            c["accepted"],
            c["accept_rate"],
            c["kept"],
        ]
        for c in acc["cells"]
    ]
    o = acc["overall"]
    return f"""## Acceptance

A draw is accepted when the checker's verdict equals the perturbation's intended label and the
narrative round-trips (every event stated, nothing contradicting). Overall: {o["drawn"]} drawn,
{o["accepted"]} accepted (rate {_fmt(o["accept_rate"])}), {o["kept"]} kept after label quotas
and dedup. Accepted draws not kept: {_reasons(o["skipped"])}.

{_table(["perturbation", *heads], _accept_rows(acc["by_perturbation"]))}

{_table(["domain", *heads], _accept_rows(acc["by_domain"]))}

<details><summary>Accept rate per domain x source x perturbation cell</summary>

{_table(["domain", "source", "perturbation", "drawn", "accepted", "accept rate", "kept"], cells)}

</details>"""


def _dedup(m: dict) -> str:
    rows = [
        [
            name,
            s["offered"],
            s["kept"],
            s["exact"],
            s["exact_label_conflicts"],
            s["near_same_split"],
            s["near_cross_split"],
        ]
        for name, s in m["dedup"].items()
    ]
    cfg = m["config"]["dedup"]
    return f"""## Deduplication

Threshold {cfg["threshold"]}, word {cfg["shingle_words"]}-gram shingles, {cfg["num_perm"]}
MinHash permutations. Exact duplicates: same normalised (lowercased, whitespace-collapsed)
procedure + scenario text. {NEAR_DUPLICATE_RULE}

Within a split, candidates come from MinHash LSH over the scenario shingles (bands set to catch
>= 98% of pairs at the threshold) and are verified with exact Jaccard. Across splits every instance with a near-identical procedure text is
compared (MinHash estimate first, exact Jaccard when the estimate is within 0.2 of the
threshold). Counts are of accepted candidates offered to the deduplicator:

{
        _table(
            [
                "cohort",
                "offered",
                "kept",
                "exact",
                "label conflicts",
                "near (same split)",
                "near (cross split)",
            ],
            rows,
        )
    }"""


def _audit(a: dict) -> str:
    rows = [
        [
            " vs ".join(r["splits"]),
            r["max_similarity"],
            r["pairs_above_threshold"],
            r["scenario_only_max_jaccard"],
        ]
        for r in a.get("by_split_pair", [])
    ]
    pair = a.get("max_pair") or {}
    where = (
        f" (between `{pair['a']}` and `{pair['b']}`: procedure Jaccard "
        f"{pair['procedure_jaccard']}, scenario Jaccard {pair['scenario_jaccard']})"
        if pair
        else ""
    )
    verdict = "PASSED" if a.get("passed") else "FAILED"
    return f"""## Leakage audit: {verdict}

Exact (not sampled) over every pair of instances, pair members included, in different splits;
similarity
{a.get("similarity")}. Highest cross-split similarity: **{_fmt(a.get("max_cross_split_similarity"))}**{where}.
Cross-split pairs at or above the threshold {a.get("threshold")}: **{a.get("pairs_above_threshold")}**.
Highest cross-split scenario-only Jaccard (procedure ignored): {_fmt(a.get("max_cross_split_scenario_jaccard"))}.

{_table(["splits", "max similarity", "pairs >= threshold", "max scenario-only Jaccard"], rows)}"""


def _pairs(pairs: dict) -> str:
    rows = [
        [s, ", ".join(f"{r} {n}" for r, n in roles.items())]
        for s, roles in pairs["roles_by_split"].items()
    ]
    return f"""## Counterfactual pairs

{pairs["pairs"]} pairs ({pairs["records"]} records) in `pairs.jsonl` / `pairs.parquet`, each
member carrying its split, `pair_id` and `pair_role` (base, flip: label changes, preserve:
label holds).

{_table(["split", "members by role"], rows)}"""


def _files(m: dict) -> str:
    rows = [[f"`{name}`", sha[:16]] for name, sha in m["files"].items()]
    return f"""## Files

{_table(["file", "sha256 (first 16)"], rows)}

Load with `datasets.load_dataset("json", data_files={{"train": "train.jsonl", ...}})` or the
Parquet files, or with `proclab.dataset.records.read_jsonl`. `timings.json` (per-stage build
times) is the only file that changes between two builds of the same config."""
