"""`run_eval`: answer every (record, prompt order) not yet in the run's log, append the scored
samples batch by batch, then compute `results.json` from the whole log.

Resuming is the normal path: a rerun with the same config reads the log, skips the keys it
holds and continues; an interrupted batch was never written, so nothing is scored twice.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from proclab import __version__
from proclab.errors import ConfigError, ProclabError
from proclab.evaluate.analysis import analyze
from proclab.evaluate.config import EvalConfig
from proclab.evaluate.data import EvalData, load_eval_data
from proclab.evaluate.evaluators import EVALUATORS, Evaluator
from proclab.evaluate.logs import (
    RESULTS_FILE,
    RUN_FILE,
    SAMPLES_FILE,
    BootstrapInfo,
    DataInfo,
    Results,
    SampleLog,
    SampleWriter,
    prompt_sha256,
    read_samples,
    write_json_atomic,
)
from proclab.evaluate.records import EvalRecord
from proclab.evaluate.shard import SHARD_GLOB, current_shard, merge_shards, mine
from proclab.infer.base import Generation
from proclab.prompts import build_messages, parse_verdict
from proclab.registry import lookup

Progress = Callable[[int, int], None]  # (samples done now, samples in total)


class EvalAborted(ProclabError):
    """The evaluator failed mid-run; the log holds every finished batch and a rerun resumes."""


@dataclass(frozen=True)
class RunOutcome:
    results: Results
    out: Path
    new_samples: int  # scored by this call (the rest came from the log)


def git_hash() -> str | None:
    """HEAD of the repository holding this source file, None outside one."""
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent,
                              capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return (done.stdout.strip() or None) if done.returncode == 0 else None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def prepare_run_dir(out: Path, config: EvalConfig, data_sha256: str, *,
                    overwrite: bool) -> dict[str, Any]:
    """Create or reopen `out`; refuse one holding another config unless `overwrite` (which
    deletes its log). Returns the run record (config identity and start time)."""
    identity = config.identity_sha256(data_sha256)
    run_file = out / RUN_FILE
    if out.exists() and not out.is_dir():
        raise ConfigError("--out exists and is not a directory", where=str(out))
    if run_file.is_file():
        try:
            old = json.loads(run_file.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            old = {"identity": {}}  # unreadable: treated as another config
        if old.get("identity_sha256") == identity:
            return old
        # A run that never logged a sample (e.g. its model failed to load) is free to replace.
        logged = [out / SAMPLES_FILE, *out.glob(SHARD_GLOB)]
        if not overwrite and any(read_samples(path) for path in logged):
            now, before = config.identity(data_sha256), old.get("identity", {})
            diff = "; ".join(f"{k}: {before.get(k)!r} there, {v!r} now"
                             for k, v in now.items() if before.get(k) != v)
            raise ConfigError(
                f"run directory holds a run of another config ({diff})",
                where=str(out),
                fix="pass --overwrite to replace it, or choose another --out",
            )
    elif out.is_dir() and any(out.iterdir()) and not overwrite:
        raise ConfigError("--out is a non-empty directory that holds no proclab run",
                          where=str(out), fix="choose a new or empty directory")
    if overwrite or run_file.is_file():
        for name in (SAMPLES_FILE, RESULTS_FILE, RUN_FILE, "report.md", "report.html"):
            (out / name).unlink(missing_ok=True)
        for shard_log in out.glob(SHARD_GLOB):  # a data-parallel run's unmerged logs
            shard_log.unlink()
        shutil.rmtree(out / "figures", ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    record = {"identity_sha256": identity, "identity": config.identity(data_sha256),
              "started_at": _now()}
    write_json_atomic(run_file, record)
    return record


def prompt_messages(rec: EvalRecord, order: str) -> list[dict[str, str]]:
    """The chat prompt of a record in one block order (the reference format)."""
    fields = {"id": rec.id, "procedure_text": rec.procedure_text,
              "scenario_text": rec.scenario_text, "question": rec.question}
    return build_messages(fields, order=order)


def _sample(rec: EvalRecord, order: str, messages: list[dict[str, str]], gen: Generation,
            latency: float) -> SampleLog:
    parsed = parse_verdict(gen.text)
    return SampleLog(
        id=rec.id, order=order, prompt_sha256=prompt_sha256(messages), output=gen.text,
        parsed=parsed, gold=rec.label, correct=parsed == rec.label, latency_s=round(latency, 6),
        procedure_id=rec.procedure_id, perturbation=rec.perturbation, source=rec.source,
        domain=rec.domain, pair_id=rec.pair_id, pair_role=rec.pair_role,
        finish_reason=gen.finish_reason, completion_tokens=gen.completion_tokens,
        group_id=rec.group_id, meta=rec.meta,
    )


def _answer_all(todo: list[tuple[EvalRecord, str]], evaluator: Evaluator, config: EvalConfig,
                writer: SampleWriter, progress: Progress | None, done0: int, total: int) -> int:
    """Answer `todo` in batches, appending each finished batch; returns samples written.
    Samples whose generation reports an error are left out (a rerun retries them)."""
    written, failed, first_error = 0, 0, ""
    gen_config = config.generation()
    for start in range(0, len(todo), config.batch_size):
        batch = todo[start : start + config.batch_size]
        prompts = [prompt_messages(rec, order) for rec, order in batch]
        began = time.perf_counter()
        gens = evaluator.answer([rec for rec, _ in batch], prompts, gen_config)
        latency = (time.perf_counter() - began) / len(batch)  # batch time, shared evenly
        if len(gens) != len(batch):
            raise ProclabError(f"backend {evaluator.name!r} returned {len(gens)} answers for "
                               f"{len(batch)} prompts")
        ok = [(item, msgs, g) for item, msgs, g in zip(batch, prompts, gens, strict=True)
              if g.error is None and g.finish_reason != "error"]
        writer.write(_sample(rec, order, msgs, g, latency) for (rec, order), msgs, g in ok)
        written += len(ok)
        if len(ok) < len(batch):
            failed += len(batch) - len(ok)
            first_error = first_error or next(g.error or "error" for g in gens
                                              if g.error is not None or g.finish_reason == "error")
            if not ok:  # a whole batch failing means the backend is down: stop now
                break
        if progress is not None:
            progress(done0 + written, total)
    if failed:
        raise EvalAborted(
            f"{failed} samples failed ({first_error}); {done0 + written} of {total} are logged",
            fix="fix the backend (server reachable? API key set?) and rerun the same command "
            "to retry the missing samples",
        )
    return written


def run_eval(config: EvalConfig, out: str | Path, *, overwrite: bool = False,
             evaluator: Evaluator | None = None, progress: Progress | None = None) -> RunOutcome:
    """Evaluate `config` into run directory `out` (resuming a run of the same config) and
    write results.json. `evaluator` replaces the registry's (tests, custom models). Under a
    data-parallel launch each process answers its share (see shard.py)."""
    out = Path(out)
    shard = current_shard()
    factory = lookup(EVALUATORS, config.backend, kind="backend") if evaluator is None else None
    data = load_eval_data(config.data, config.split, pairs=config.pairs, limit=config.limit,
                          field_map=config.map, label_map=config.label_map)
    wanted = [(rec, order) for rec in data.records for order in config.orders]
    keys = [(rec.id, order) for rec, order in wanted]
    if shard.is_main:
        run = prepare_run_dir(out, config, data.sha256, overwrite=overwrite)
        merge_shards(out, keys)  # what an interrupted data-parallel run left
    shard.wait()
    if not shard.is_main:
        run = json.loads((out / RUN_FILE).read_text(encoding="utf-8"))
    done = {s.key for s in read_samples(out / SAMPLES_FILE)}
    todo = mine([(rec, order) for rec, order in wanted if (rec.id, order) not in done], shard)
    new = 0
    if todo:
        owned = evaluator is None  # built here, so closed here
        if evaluator is None:
            assert factory is not None
            evaluator = factory(config, data)
        # Kept in run.json so a later call with nothing left to do still reports it.
        run["evaluator"] = dict(getattr(evaluator, "info", {}) or {})
        if shard.is_main:
            write_json_atomic(out / RUN_FILE, run)
        try:
            new = _score(todo, len(wanted), evaluator, config, shard.log(out), progress)
        finally:
            close = getattr(evaluator, "close", None)
            if owned and callable(close):
                close()
    shard.wait()
    if shard.is_main:
        merged = merge_shards(out, keys)
        new = merged if shard.active else new  # every rank's new samples
    shard.wait()
    results = build_results(config, data, out, run, run.get("evaluator", {}),
                            write=shard.is_main)
    return RunOutcome(results=results, out=out, new_samples=new)


def _score(todo: list[tuple[EvalRecord, str]], total: int, evaluator: Evaluator,
           config: EvalConfig, log_path: Path, progress: Progress | None) -> int:
    """Answer and log `todo`; any failure becomes an EvalAborted that says the log is valid."""
    done0 = total - len(todo)
    if progress is not None:
        progress(done0, total)
    resume = "the log is valid: rerun the same command to resume"
    with SampleWriter(log_path) as writer:
        try:
            return _answer_all(todo, evaluator, config, writer, progress, done0, total)
        except EvalAborted:
            raise
        except ProclabError as err:
            raise EvalAborted(err.what, where=err.where or str(log_path),
                              fix=f"{err.fix or 'fix the problem'}; {resume}") from err
        except Exception as err:
            if not _is_transport_error(err):
                raise
            raise EvalAborted(f"backend {config.backend!r} unreachable: {err}",
                              where=str(log_path),
                              fix=f"check the server address and network; {resume}") from err


def _is_transport_error(err: Exception) -> bool:
    # Connection failures surface as OSError subclasses or as the HTTP client's own exception
    # types (httpx, openai); those mean "unreachable", anything else is a bug to show as is.
    root = type(err).__module__.split(".")[0]
    return isinstance(err, (OSError, TimeoutError)) or root in {"httpx", "httpcore", "openai"}


def build_results(config: EvalConfig, data: EvalData, out: Path, run: dict[str, Any],
                  evaluator_info: dict[str, Any], *, write: bool = True) -> Results:
    """Results of the samples this config selects, read back from the log; writes them."""
    wanted = {(rec.id, order) for rec in data.records for order in config.orders}
    samples = [s for s in read_samples(out / SAMPLES_FILE) if s.key in wanted]
    if not samples:
        raise EvalAborted("no sample has been scored yet", where=str(out / SAMPLES_FILE),
                          fix="rerun the same command")
    analysis = analyze(samples, config.orders, resamples=config.resamples, seed=config.seed,
                       breakdown=config.breakdown, mapped=data.mapping is not None)
    public = config.public()
    if evaluator_info:
        public["evaluator"] = evaluator_info
    results = Results(
        proclab_version=__version__,
        config=public,
        config_sha256=run["identity_sha256"],
        git_hash=git_hash(),
        data=DataInfo(path=config.data, split=config.split, pairs=config.pairs,
                      sha256=data.sha256, records=len(data.records), mapping=data.mapping),
        seed=config.seed,
        n=analysis.n,
        n_expected=len(wanted),
        complete=analysis.n == len(wanted),
        bootstrap=BootstrapInfo(resamples=config.resamples, seed=config.seed,
                                cluster="group_id" if data.mapping else "procedure_id",
                                clusters=analysis.clusters),
        metrics=analysis.metrics,
        per_class=analysis.per_class,
        grid=analysis.grid,
        pairs=analysis.pairs,
        orders=analysis.orders,
        breakdowns=analysis.breakdowns,
        not_applicable=analysis.not_applicable,
        started_at=run["started_at"],
        finished_at=_now(),
    )
    if write:
        write_json_atomic(out / RESULTS_FILE, results.model_dump(mode="json"))
    return results
