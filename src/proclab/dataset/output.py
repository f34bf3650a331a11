"""Write a build to a directory, all at once: files go to a temporary sibling directory that
replaces the target only when complete, so an error never leaves a half-written dataset.

Layout: `<split>.jsonl` + `<split>.parquet` per split, `pairs.jsonl` + `pairs.parquet`,
`manifest.json` (config, its sha256, counts, accept and dedup statistics, file hashes),
`audit.json`, `probes.json`, `probes/surface.pkl`, `datacard.md`, and `timings.json` — the only
file that differs between two builds of the same config.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from proclab import __version__
from proclab.dataset.build import BuildResult
from proclab.dataset.config import TRAIN_SPLIT, DatasetConfig
from proclab.dataset.datacard import count_cells, render_datacard
from proclab.dataset.records import QUESTION, SCHEMA_VERSION, write_jsonl, write_parquet
from proclab.errors import ConfigError, DataError

MANIFEST = "manifest.json"
PAIRS = "pairs"
SURFACE_PROBE = "probes/surface.pkl"


def check_out_dir(out: Path, config: DatasetConfig, *, overwrite: bool) -> None:
    """Refuse a directory that holds a different build (unless `overwrite`) or foreign files."""
    if not out.exists():
        return
    if not out.is_dir():
        raise ConfigError("output path exists and is not a directory", where=str(out))
    if not any(out.iterdir()):
        return
    manifest = out / MANIFEST
    if not manifest.is_file():
        raise ConfigError(
            "output directory is not empty and holds no proclab dataset; "
            "refusing to replace it, even with --overwrite",
            where=str(out),
            fix="choose a new or empty directory",
        )
    try:
        old = json.loads(manifest.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, OSError):
        old = {}
    if old.get("config_sha256") == config.sha256() or overwrite:
        return
    raise ConfigError(
        f"output directory holds a different build (name {old.get('name')!r}, config sha256 "
        f"{str(old.get('config_sha256'))[:12]}...) than this config ({config.sha256()[:12]}...)",
        where=str(out),
        fix="pass --overwrite to replace it, or choose another --out",
    )


def write_build(result: BuildResult, out: str | Path, *, overwrite: bool = False) -> Path:
    """Write every file of `result` into `out` atomically; returns `out`."""
    out = Path(out)
    check_out_dir(out, result.config, overwrite=overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        _write_all(result, tmp)
        os.chmod(tmp, 0o755)
        _swap(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _swap(tmp: Path, out: Path) -> None:
    if not out.exists():
        tmp.rename(out)
        return
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    out.rename(old)
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def _write_all(result: BuildResult, tmp: Path) -> None:
    with result.timings.stage("write"):
        _write_data(result, tmp)
    _dump(tmp / "timings.json", timing_report(result))


def _write_data(result: BuildResult, tmp: Path) -> None:
    files: dict[str, str] = {}
    for split, records in result.splits.items():
        files.update(_write_records(tmp, split, records))
    files.update(_write_records(tmp, PAIRS, result.pairs))
    if result.surface is not None:
        result.surface.save(tmp / SURFACE_PROBE)
        files[SURFACE_PROBE] = _sha256(tmp / SURFACE_PROBE)
    _dump(tmp / "audit.json", result.audit)
    _dump(tmp / "probes.json", result.probes)
    manifest = make_manifest(result, files)
    _dump(tmp / MANIFEST, manifest)
    datacard = render_datacard(manifest, result.audit, result.probes)
    (tmp / "datacard.md").write_text(datacard, encoding="utf-8", newline="\n")


def _write_records(tmp: Path, name: str, records) -> dict[str, str]:
    write_jsonl(tmp / f"{name}.jsonl", records)
    write_parquet(tmp / f"{name}.parquet", records)
    return {f: _sha256(tmp / f) for f in (f"{name}.jsonl", f"{name}.parquet")}


def make_manifest(result: BuildResult, files: dict[str, str]) -> dict[str, Any]:
    config = result.config
    records = [r for split in result.splits.values() for r in split]
    return {
        "schema_version": SCHEMA_VERSION,
        "proclab_version": __version__,
        "name": config.name,
        "config_sha256": config.sha256(),
        "config": config.model_dump(mode="json"),
        "question": QUESTION,
        "splits": {
            split: {
                "records": len(recs),
                # Instances that share a scenario differ in the procedure's house style.
                "distinct_scenarios": len({r.scenario_text for r in recs}),
                "heldout": split != TRAIN_SPLIT,
                "cohorts": config.splits[split],
            }
            for split, recs in result.splits.items()
        },
        "total_records": len(records),
        "pairs": _pair_summary(result),
        "train_procedures": list(result.plan.train_procedures),
        "heldout_procedures": list(result.plan.heldout_procedures),
        "heldout_styles": list(config.heldout.styles),
        "dedup": {name: vars(stats) for name, stats in result.dedup.items()},
        "accept": result.accept.to_json(),
        "filler": result.filler,
        "cells": count_cells(records),
        "audit_passed": result.audit.get("passed"),
        "files": dict(sorted(files.items())),
    }


def _pair_summary(result: BuildResult) -> dict[str, Any]:
    by_split: dict[str, dict[str, int]] = {}
    for rec in result.pairs:
        roles = by_split.setdefault(rec.split, {})
        roles[rec.pair_role or "?"] = roles.get(rec.pair_role or "?", 0) + 1
    return {
        "records": len(result.pairs),
        "pairs": len({r.pair_id for r in result.pairs}),
        "roles_by_split": {s: dict(sorted(r.items())) for s, r in sorted(by_split.items())},
    }


def timing_report(result: BuildResult) -> dict[str, Any]:
    """Per-stage wall and CPU seconds, totals and throughput (the content of timings.json)."""
    wall, cpu = result.timings.wall, result.timings.cpu
    # `dedup` is spent inside `generate_and_dedup`; the other stages run one after another.
    total = sum(v for k, v in wall.items() if k != "dedup")
    total_cpu = sum(v for k, v in cpu.items() if k != "dedup")
    n = sum(len(r) for r in result.splits.values())
    return {
        "stages_s": {k: round(v, 3) for k, v in wall.items()},
        "stages_cpu_s": {k: round(v, 3) for k, v in cpu.items()},
        "total_s": round(total, 3),
        "total_cpu_s": round(total_cpu, 3),
        "instances": n,
        "instances_per_s": round(n / total, 1) if total else None,
    }


def load_manifest(data_dir: str | Path) -> dict[str, Any]:
    path = Path(data_dir) / MANIFEST
    if not path.is_file():
        raise DataError(
            "no dataset here (manifest.json missing)",
            where=str(data_dir),
            fix="pass a directory written by `proclab dataset build`",
        )
    return json.loads(path.read_text(encoding="utf-8"))


def _dump(path: Path, obj: Any) -> None:
    path.write_text(
        json.dumps(obj, indent=2, sort_keys=True) + "\n", encoding="utf-8", newline="\n"
    )


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
