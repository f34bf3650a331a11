"""`[SIG=NAME]` scaffolding (DESIGN.md §6): split a trace into steps on blank lines, give each
step a signal from a swappable taxonomy by step-initial keyword rules, optionally let an LLM
validator confirm or correct the labels, and write the signal inline before each step.

A taxonomy (signal names, descriptions, ordered keyword rules, default signal) is one YAML data
file; `TAXONOMIES` names the bundled ones and `load_taxonomy` also accepts a path.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cache, cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from proclab.configfile import read_yaml_mapping
from proclab.errors import ConfigError, ErrorList, ProclabError
from proclab.registry import lookup

Route = Literal["keyword", "validator", "default"]
ROUTES: tuple[Route, ...] = ("keyword", "validator", "default")
DATA_DIR = Path(__file__).resolve().parent / "data"
TAXONOMIES: dict[str, Path] = {"reasoning_scaffolding": DATA_DIR / "signals.yaml"}
DEFAULT_TAXONOMY = "reasoning_scaffolding"

SIGNAL_TOKEN = re.compile(r"\[SIG=([A-Z][A-Z0-9_]*)\][ \t]?")
_STEP_BREAK = re.compile(r"\n[ \t]*\n\s*")
# Markdown decoration a keyword rule should look past ("**Final answer:**", "> However").
_DECORATION = re.compile(r"^[\s*_>#`~-]+")
_ANSWER_LINE = re.compile(r"^[\s*_>#`-]*final\s+answer\s*:", re.IGNORECASE)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SignalDef(_Strict):
    name: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$")
    description: str = Field(min_length=3)


class KeywordRule(_Strict):
    """Regexes matched case-insensitively at the start of a step; a match assigns `signal`."""

    signal: str
    patterns: list[str] = Field(min_length=1)


class Taxonomy(_Strict):
    name: str
    description: str = ""
    default_signal: str
    signals: list[SignalDef] = Field(min_length=1)
    rules: list[KeywordRule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Taxonomy:
        names = [s.name for s in self.signals]
        problems = [f"signal {n} is listed twice" for n in sorted({n for n in names if names.count(n) > 1})]
        if self.default_signal not in names:
            problems.append(f"default_signal {self.default_signal} is not one of the signals")
        for i, rule in enumerate(self.rules):
            if rule.signal not in names:
                problems.append(f"rules[{i}] assigns unknown signal {rule.signal}")
            for j, pattern in enumerate(rule.patterns):
                try:
                    re.compile(pattern)
                except re.error as err:
                    problems.append(f"rules[{i}].patterns[{j}] is not a valid regex: {err}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.signals]

    @cached_property
    def compiled(self) -> tuple[tuple[str, re.Pattern[str]], ...]:
        """One alternation per rule, in rule order (the first rule that matches wins)."""
        return tuple(
            (r.signal, re.compile("|".join(f"(?:{p})" for p in r.patterns), re.IGNORECASE))
            for r in self.rules
        )

    def classify(self, step: str) -> tuple[str, Route]:
        """The signal of one step and how it was chosen ("keyword" or "default")."""
        head = _DECORATION.sub("", SIGNAL_TOKEN.sub("", step, count=1))
        for signal, regex in self.compiled:
            if regex.match(head):
                return signal, "keyword"
        return self.default_signal, "default"


def load_taxonomy(spec: str | Path = DEFAULT_TAXONOMY) -> Taxonomy:
    """A bundled taxonomy by name (see `TAXONOMIES`) or a taxonomy YAML file by path."""
    path = Path(spec)
    if str(spec) not in TAXONOMIES and path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise ConfigError("taxonomy file not found", where=str(path),
                              fix=f"pass a YAML file or one of: {', '.join(TAXONOMIES)}")
        return _load_file(path.resolve())
    return _load_file(lookup(TAXONOMIES, str(spec), kind="signal taxonomy"))


@cache
def _load_file(path: Path) -> Taxonomy:
    data = read_yaml_mapping(path)
    try:
        return Taxonomy.model_validate(data)
    except ValidationError as err:
        problems: list[ProclabError] = [
            ConfigError(e["msg"], where=f"{path}: {'.'.join(map(str, e['loc'])) or '(top level)'}",
                        fix="see src/proclab/teacher/data/signals.yaml for the format")
            for e in err.errors()
        ]
        raise ErrorList(problems, what="invalid signal taxonomy") from None


# -- segmentation and keyword labels ------------------------------------------------------------


def segment(trace_text: str) -> list[str]:
    """Steps of a trace: paragraphs split on blank lines, stripped, empty ones dropped. A
    final-answer line at the end of a longer last paragraph becomes its own step."""
    text = trace_text.replace("\r\n", "\n").replace("\r", "\n").strip()
    steps = [s.strip() for s in _STEP_BREAK.split(text) if s.strip()]
    if steps:
        head, _, last_line = steps[-1].rpartition("\n")
        if head.strip() and _ANSWER_LINE.match(last_line):
            steps[-1:] = [head.rstrip(), last_line.strip()]
    return steps


def assign_signals(steps: Sequence[str], rules: Taxonomy) -> list[tuple[str, Route]]:
    """(signal, route) per step by the taxonomy's keyword rules; unmatched steps get the
    default signal with route "default"."""
    return [rules.classify(step) for step in steps]


def strip_signals(text: str) -> str:
    """`text` without its `[SIG=NAME] ` tokens (the plain trace)."""
    return SIGNAL_TOKEN.sub("", text)


def render_scaffold(steps: Sequence[str], signals: Sequence[str]) -> str:
    """Steps joined by blank lines, each prefixed `[SIG=NAME] `."""
    return "\n\n".join(f"[SIG={sig}] {step}" for sig, step in zip(signals, steps, strict=True))


@dataclass(frozen=True)
class ScaffoldedTrace:
    steps: tuple[str, ...]
    signals: tuple[str, ...]
    routes: tuple[Route, ...]

    @property
    def text(self) -> str:
        return render_scaffold(self.steps, self.signals)

    def route_counts(self) -> Counter[str]:
        return Counter(self.routes)


def scaffold(trace_text: str, rules: Taxonomy) -> ScaffoldedTrace:
    """Segment `trace_text` and label every step by keyword (validation is a separate pass:
    `validate_scaffolds`)."""
    steps = segment(strip_signals(trace_text))
    labels = assign_signals(steps, rules)
    return ScaffoldedTrace(
        steps=tuple(steps),
        signals=tuple(sig for sig, _ in labels),
        routes=tuple(route for _, route in labels),
    )


# -- the optional LLM validator -------------------------------------------------------------------

VALIDATOR_PROMPT = """\
You label the steps of a reasoning trace with semantic signals. The signals are:

{signals}

Each step below comes with a proposed signal. Keep the proposed signal when it fits the step's \
role in the reasoning; otherwise replace it with the signal that fits best.

{steps}

Reply with exactly one line per step, in order, of the form `N: SIGNAL`, using only the signal \
names listed above, and nothing else."""
_STEP_CHARS = 600
_REPLY_LINE = re.compile(r"^\W*(\d+)\s*[:.)\]-]\s*[*`\[]*\s*([A-Za-z_]+)", re.MULTILINE)


def validation_messages(trace: ScaffoldedTrace, rules: Taxonomy) -> list[dict[str, str]]:
    """The one-message chat asking a validator to confirm or correct every step's signal."""
    signals = "\n".join(f"- {s.name}: {s.description}" for s in rules.signals)
    steps = "\n\n".join(
        f"[{i}] (proposed: {sig})\n{_clip(step)}"
        for i, (sig, step) in enumerate(zip(trace.signals, trace.steps, strict=True), start=1)
    )
    return [{"role": "user", "content": VALIDATOR_PROMPT.format(signals=signals, steps=steps)}]


def _clip(step: str) -> str:
    return step if len(step) <= _STEP_CHARS else step[: _STEP_CHARS - 3].rstrip() + "..."


def parse_validation(reply: str | None, n_steps: int, rules: Taxonomy) -> list[str] | None:
    """One taxonomy signal per step from a validator reply, or None when any step lacks a
    valid one (the keyword labels are then kept)."""
    known = set(rules.names)
    found: dict[int, str] = {}
    for match in _REPLY_LINE.finditer(reply or ""):
        index, name = int(match.group(1)), match.group(2).upper()
        if 1 <= index <= n_steps and name in known:
            found.setdefault(index, name)
    if len(found) != n_steps:
        return None
    return [found[i] for i in range(1, n_steps + 1)]


def apply_validation(trace: ScaffoldedTrace, signals: Sequence[str]) -> ScaffoldedTrace:
    """`trace` relabelled by the validator: a changed step gets route "validator", a
    confirmed one keeps its route."""
    routes = tuple(
        route if new == old else "validator"
        for new, old, route in zip(signals, trace.signals, trace.routes, strict=True)
    )
    return replace(trace, signals=tuple(signals), routes=routes)


@dataclass
class ValidatorStats:
    traces: int = 0
    failed: int = 0  # API error or unparsable reply: keyword labels kept
    confirmed_steps: int = 0
    corrected_steps: int = 0
    cached: int = 0
    prompt_tokens: int = 0  # of requests paid for in this run (cache hits cost nothing)
    completion_tokens: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))


async def validate_scaffolds(
    traces: Sequence[ScaffoldedTrace], rules: Taxonomy, client: Any, **params: Any
) -> tuple[list[ScaffoldedTrace], ValidatorStats]:
    """Ask `client` (a `TeacherClient`: `await chat_many(messages_list, **params)`) to check
    every trace's labels; returns the relabelled traces and counts."""
    stats = ValidatorStats(traces=len(traces))
    if not traces:
        return [], stats
    results = await client.chat_many([validation_messages(t, rules) for t in traces], **params)
    out: list[ScaffoldedTrace] = []
    for trace, result in zip(traces, results, strict=True):
        stats.cached += bool(result.cached)
        if not result.cached:
            stats.prompt_tokens += result.prompt_tokens
            stats.completion_tokens += result.completion_tokens
        signals = None if result.error else parse_validation(result.content, len(trace.steps), rules)
        if signals is None:
            stats.failed += 1
            out.append(trace)
            continue
        fixed = apply_validation(trace, signals)
        changed = sum(a != b for a, b in zip(fixed.signals, trace.signals, strict=True))
        stats.corrected_steps += changed
        stats.confirmed_steps += len(signals) - changed
        out.append(fixed)
    return out, stats
