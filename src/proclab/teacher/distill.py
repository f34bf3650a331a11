"""The distillation runner: teacher traces for a dataset split, rejection sampling, `[SIG=...]`
scaffolding and SFT-ready output (DESIGN.md §6).

`distill(config)` reads `DATA/<split>.jsonl`, asks the teacher (the offline oracle, or any
OpenAI-compatible endpoint through `TeacherClient`) for `samples` traces per record, keeps a
trace only when it is well formed and its parsed verdict equals the gold label, scaffolds the
kept ones, and `write_outputs` writes `sft.jsonl`, `rejected.jsonl`, `summary.json` and
`summary.md`. The oracle is deterministic (same config, same bytes); an `openai` run resumes
through the client's persistent cache (default `OUT/teacher-cache.sqlite`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from proclab.dataset.records import Instance, dumps, limit_sample, load_split
from proclab.errors import ConfigError, ErrorList, ProclabError
from proclab.procedures.trace import Verdict
from proclab.prompts import build_messages, parse_verdict
from proclab.teacher.oracle import OracleTeacher
from proclab.teacher.scaffold import (
    ScaffoldedTrace,
    Taxonomy,
    ValidatorStats,
    load_taxonomy,
    scaffold,
    validate_scaffolds,
)

SCHEMA_VERSION = 1
TeacherKind = Literal["oracle", "openai"]

# Appended to the reference prompt (`proclab.prompts.build_messages`) for API teachers.
TEACHER_INSTRUCTION = (
    "Reason step by step: restate the task, go through the procedure one step at a time, "
    "match each step against what the scenario says happened, and point out any "
    "discrepancy. Separate your reasoning steps with blank lines. End with a line of exactly "
    "the form `Final answer: COMPLIANT` or `Final answer: NON-COMPLIANT`."
)
REJECT_REASONS = ("api_error", "truncated", "no_answer_line", "unparsed", "wrong_verdict")
_ANSWER_LINE = re.compile(r"^[\s*_>#`-]*final\s+answer\s*:", re.IGNORECASE)


class DistillConfig(BaseModel):
    """One distillation run. The API key is never here: `api_key_env` names the variable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    data: Path = Field(description="dataset directory written by `proclab dataset build`")
    out: Path = Field(description="output directory")
    split: str = "train"
    teacher: TeacherKind = "oracle"
    model: str = Field("deepseek/deepseek-r1", min_length=1)
    base_url: str = "https://openrouter.ai/api/v1"
    api_key_env: str | None = "OPENROUTER_API_KEY"
    samples: int = Field(1, ge=1, le=64, description="traces requested per record (k)")
    temperature: float = Field(0.6, ge=0)
    max_tokens: int = Field(8192, ge=1)
    concurrency: int = Field(16, ge=1, le=1024)
    rpm: int | None = Field(None, ge=1)
    timeout_s: float = Field(300.0, gt=0)
    seed: int = 0
    validator: bool = False
    validator_model: str | None = None
    taxonomy: str = "reasoning_scaffolding"
    limit: int | None = Field(None, ge=1, description="use only N records, a fixed sample spread over the split")
    cache: Path | None = Field(None, description="response cache (default OUT/teacher-cache.sqlite)")
    price_per_mtok_in: float = Field(0.0, ge=0)
    price_per_mtok_out: float = Field(0.0, ge=0)

    @property
    def teacher_name(self) -> str:
        return "oracle" if self.teacher == "oracle" else self.model

    def client_config(self, model: str | None = None) -> Any:
        """The `ClientConfig` for the teacher (or, with `model`, for the validator)."""
        from proclab.teacher.client import ClientConfig

        return ClientConfig(
            base_url=self.base_url, model=model or self.model, api_key_env=self.api_key_env,
            concurrency=self.concurrency, rpm=self.rpm, timeout_s=self.timeout_s,
            temperature=self.temperature, max_tokens=self.max_tokens,
            cache_path=self.cache or self.out / "teacher-cache.sqlite",
            price_per_mtok_in=self.price_per_mtok_in, price_per_mtok_out=self.price_per_mtok_out,
        )


def make_config(values: dict[str, Any], *, where: str = "distill config") -> DistillConfig:
    """Validate `values`, reporting every invalid field at once."""
    try:
        return DistillConfig.model_validate(values)
    except ValidationError as err:
        problems: list[ProclabError] = [
            ConfigError(e["msg"], where=f"{where}: {'.'.join(str(p) for p in e['loc'])}")
            for e in err.errors()
        ]
        raise ErrorList(problems, what=f"invalid {where}") from None


def teacher_messages(record: Instance) -> list[dict[str, str]]:
    """The reference user prompt followed by `TEACHER_INSTRUCTION`, as one user message."""
    user = build_messages(record.model_dump())[0]
    return [{"role": "user", "content": f"{user['content']}\n\n{TEACHER_INSTRUCTION}"}]


@dataclass(frozen=True)
class Sample:
    """One teacher answer for one record: `content` holds the answer (with the final line),
    `reasoning` a separate thinking trace, if the teacher gave one."""

    record: Instance
    index: int
    content: str
    reasoning: str | None = None
    finish_reason: str | None = "stop"
    error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False

    @property
    def trace_text(self) -> str:
        """What gets scaffolded: the reasoning (if any) followed by the answer."""
        return f"{self.reasoning.strip()}\n\n{self.content}" if self.reasoning else self.content


def judge(sample: Sample) -> tuple[Verdict | None, str | None]:
    """(parsed verdict, rejection reason or None). Kept only when the answer ends in a
    final-answer line whose verdict equals the gold label and the reply was not truncated."""
    if sample.error:
        return None, f"api_error:{sample.error}"
    if sample.finish_reason == "length":
        return parse_verdict(sample.content), "truncated"
    lines = [line for line in sample.content.strip().splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    if not _ANSWER_LINE.match(last):
        verdict = parse_verdict(sample.content)
        return verdict, "unparsed" if verdict is None else "no_answer_line"
    verdict = parse_verdict(last)
    if verdict is None:
        return None, "unparsed"
    return verdict, None if verdict == sample.record.label else "wrong_verdict"


@dataclass
class DistillResult:
    config: DistillConfig
    records: list[Instance]
    kept: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    scaffolds: list[ScaffoldedTrace] = field(default_factory=list)
    validator: ValidatorStats | None = None
    data_sha256: str = ""


async def _openai_samples(config: DistillConfig, records: Sequence[Instance],
                          client: Any, progress: bool) -> list[Sample]:
    messages = [teacher_messages(r) for r in records]
    out: list[Sample] = []
    for index in range(config.samples):
        # A distinct seed per sample index also gives each sample its own cache key.
        results = await client.chat_many(messages, progress=progress, seed=config.seed + index)
        out += [
            Sample(record=r, index=index, content=res.content or "", reasoning=res.reasoning,
                   finish_reason=res.finish_reason, error=res.error,
                   prompt_tokens=res.prompt_tokens, completion_tokens=res.completion_tokens,
                   cached=res.cached)
            for r, res in zip(records, results, strict=True)
        ]
    return out


def oracle_samples(config: DistillConfig, records: Sequence[Instance]) -> list[Sample]:
    teacher = OracleTeacher(seed=config.seed)
    return [
        Sample(record=r, index=i, content=teacher.write(r, i).text)
        for i in range(config.samples)
        for r in records
    ]


async def distill_async(config: DistillConfig, *, client: Any = None,
                        validator_client: Any = None, progress: bool = False) -> DistillResult:
    """Run the teacher, rejection sampling, scaffolding and (optionally) validation. Clients
    not given are built from `config` (and closed here)."""
    taxonomy = load_taxonomy(config.taxonomy)
    records = _load_records(config)
    result = DistillResult(config=config, records=records, data_sha256=_data_sha256(config))
    owned: list[Any] = []
    try:
        if config.teacher == "oracle":
            result.samples = oracle_samples(config, records)
        else:
            client = client or _own(owned, config.client_config())
            result.samples = await _openai_samples(config, records, client, progress)
        kept_samples = _split_kept(result)
        scaffolds = [scaffold(s.trace_text, taxonomy) for s in kept_samples]
        if config.validator and scaffolds:
            if validator_client is None:  # the teacher's client unless another model judges
                validator_client = client if client is not None and not config.validator_model \
                    else _own(owned, config.client_config(config.validator_model))
            scaffolds, result.validator = await validate_scaffolds(
                scaffolds, taxonomy, validator_client, progress=progress,
                seed=config.seed, temperature=0.0)
        result.scaffolds = scaffolds
        result.kept = [_sft_row(config, s, sc) for s, sc in zip(kept_samples, scaffolds, strict=True)]
    finally:
        for c in owned:
            await c.aclose()
    return result


def distill(config: DistillConfig, **kwargs: Any) -> DistillResult:
    """Synchronous `distill_async` (runs its own event loop)."""
    return asyncio.run(distill_async(config, **kwargs))


def dry_run_text(config: DistillConfig) -> str:
    """What a run would do, without doing it: for `openai`, the client's `dry_run` report of
    the requests (cached ones left out); for the oracle, the counts and the first trace."""
    records = _load_records(config)
    head = (f"distill {config.teacher_name} on {config.data}/{config.split}.jsonl: "
            f"{len(records)} records x {config.samples} sample(s) -> {config.out}")
    if config.teacher == "oracle":
        first = OracleTeacher(seed=config.seed).write(records[0]).text if records else ""
        return f"{head}\noracle teacher: offline, no requests\nfirst trace:\n{first}"
    from proclab.teacher.client import dry_run

    messages = [teacher_messages(r) for r in records]
    parts = [head]
    for index in range(config.samples):
        parts.append(f"-- sample {index} (seed {config.seed + index}) --")
        parts.append(dry_run(messages, config.client_config(), seed=config.seed + index))
    return "\n".join(parts)


def _own(owned: list[Any], client_config: Any) -> Any:
    from proclab.teacher.client import TeacherClient

    client = TeacherClient(client_config)
    owned.append(client)
    return client


def _load_records(config: DistillConfig) -> list[Instance]:
    records = load_split(config.data, config.split)
    return limit_sample(records, config.limit) if config.limit else records


def _data_sha256(config: DistillConfig) -> str:
    return hashlib.sha256((Path(config.data) / f"{config.split}.jsonl").read_bytes()).hexdigest()


def _split_kept(result: DistillResult) -> list[Sample]:
    kept: list[Sample] = []
    for sample in result.samples:
        verdict, reason = judge(sample)
        if reason is None:
            kept.append(sample)
            continue
        tail = sample.content.strip()[-200:]
        result.rejected.append({
            "id": _sample_id(sample), "record_id": sample.record.id,
            "sample_index": sample.index, "perturbation": sample.record.perturbation,
            "label": sample.record.label, "parsed": verdict, "reason": reason,
            "finish_reason": sample.finish_reason, "content_tail": tail,
        })
    return kept


def _sample_id(sample: Sample) -> str:
    return f"{sample.record.id}.s{sample.index}"


def _sft_row(config: DistillConfig, sample: Sample, trace: ScaffoldedTrace) -> dict[str, Any]:
    user = build_messages(sample.record.model_dump())[0]
    return {
        "id": _sample_id(sample),
        "record_id": sample.record.id,
        "messages": [user, {"role": "assistant", "content": trace.text}],
        "teacher": config.teacher_name,
        "signals": list(trace.signals),
        "perturbation": sample.record.perturbation,
        "label": sample.record.label,
        "sample_index": sample.index,
    }


# -- output ----------------------------------------------------------------------------------

SFT_FILE, REJECTED_FILE, SUMMARY_JSON, SUMMARY_MD = (
    "sft.jsonl", "rejected.jsonl", "summary.json", "summary.md")


def summarize(result: DistillResult, taxonomy: Taxonomy | None = None) -> dict[str, Any]:
    """Counts, keep rates (overall and per perturbation), rejection reasons, signal route
    shares, tokens and cost of a run. No timings, so an oracle run's summary is reproducible."""
    cfg = result.config
    taxonomy = taxonomy or load_taxonomy(cfg.taxonomy)
    per: dict[str, dict[str, int]] = {}
    for s in result.samples:
        per.setdefault(s.record.perturbation, {"samples": 0, "kept": 0})["samples"] += 1
    for row in result.kept:
        per[row["perturbation"]]["kept"] += 1
    reasons: dict[str, int] = {}
    for row in result.rejected:
        reasons[row["reason"]] = reasons.get(row["reason"], 0) + 1
    routes = {r: 0 for r in ("keyword", "validator", "default")}
    signals = dict.fromkeys(taxonomy.names, 0)
    for sc in result.scaffolds:
        for sig, route in zip(sc.signals, sc.routes, strict=True):
            routes[route] += 1
            signals[sig] = signals.get(sig, 0) + 1
    steps = sum(routes.values())
    paid = [s for s in result.samples if not s.cached and not s.error]
    paid_in = sum(s.prompt_tokens for s in paid)
    paid_out = sum(s.completion_tokens for s in paid)
    if result.validator:  # the validator is billed at the same prices
        paid_in += result.validator.prompt_tokens
        paid_out += result.validator.completion_tokens
    return {
        "schema_version": SCHEMA_VERSION,
        "config": cfg.model_dump(mode="json"),
        "data_sha256": result.data_sha256,
        "teacher": cfg.teacher_name,
        "records": len(result.records),
        "samples": len(result.samples),
        "kept": len(result.kept),
        "rejected": len(result.rejected),
        "keep_rate": _rate(len(result.kept), len(result.samples)),
        "reject_reasons": dict(sorted(reasons.items())),
        "per_perturbation": {
            p: {**c, "keep_rate": _rate(c["kept"], c["samples"])} for p, c in sorted(per.items())
        },
        "signals": {
            "taxonomy": taxonomy.name,
            "steps": steps,
            "routes": routes,
            "route_shares": {r: _rate(n, steps) for r, n in routes.items()},
            "counts": signals,
        },
        "validator": result.validator.as_dict() if result.validator else None,
        "tokens": {
            "prompt": sum(s.prompt_tokens for s in result.samples),
            "completion": sum(s.completion_tokens for s in result.samples),
            "cached_samples": sum(s.cached for s in result.samples),
            "sft_assistant_estimate": sum(
                (len(r["messages"][-1]["content"]) + 3) // 4 for r in result.kept),
        },
        "cost_usd": round(
            (paid_in * cfg.price_per_mtok_in + paid_out * cfg.price_per_mtok_out) / 1e6, 6),
    }


def _rate(n: int, total: int) -> float:
    return round(n / total, 4) if total else 0.0


def write_outputs(result: DistillResult, out: str | Path | None = None) -> dict[str, Any]:
    """Write the four output files under `out` (default: the config's); returns the summary."""
    out = Path(out or result.config.out)
    out.mkdir(parents=True, exist_ok=True)
    _write_jsonl(out / SFT_FILE, result.kept)
    _write_jsonl(out / REJECTED_FILE, result.rejected)
    summary = summarize(result)
    (out / SUMMARY_JSON).write_text(
        json.dumps(summary, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / SUMMARY_MD).write_text(summary_markdown(summary), encoding="utf-8")
    return summary


def _write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for row in rows:
            fh.write(dumps(row) + "\n")


def summary_markdown(summary: dict[str, Any]) -> str:
    """A short human-readable report of `summarize`'s output."""
    sig = summary["signals"]
    lines = [
        f"# Distillation summary: {summary['teacher']} on `{summary['config']['split']}`",
        "",
        f"- records: {summary['records']}, samples: {summary['samples']}, kept: "
        f"{summary['kept']} (keep rate {summary['keep_rate']:.1%}), rejected: {summary['rejected']}",
        f"- reject reasons: {_inline(summary['reject_reasons'])}",
        f"- tokens: {summary['tokens']['prompt']} prompt / {summary['tokens']['completion']} "
        f"completion ({summary['tokens']['cached_samples']} samples from cache); "
        f"cost ${summary['cost_usd']:.4f}",
        f"- signal steps: {sig['steps']}; labelled by keyword "
        f"{sig['route_shares']['keyword']:.1%}, validator {sig['route_shares']['validator']:.1%}, "
        f"default {sig['route_shares']['default']:.1%}",
        f"- signal counts: {_inline(sig['counts'])}",
        "",
        "| perturbation | samples | kept | keep rate |",
        "|---|---:|---:|---:|",
    ]
    for name, c in summary["per_perturbation"].items():
        lines.append(f"| {name} | {c['samples']} | {c['kept']} | {c['keep_rate']:.1%} |")
    return "\n".join(lines) + "\n"


def _inline(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "none"
