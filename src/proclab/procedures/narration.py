"""What a procedure file must say for scenarios to tell it in natural English: every observable
step's `narration` (past-tense phrases in other words than the step text) and every context
variable's value sentences. The scenario renderer uses only these; the checks here make sure an
author's wording can be used in every template and never pastes the procedure's own text.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterable

from proclab.errors import ProcedureError
from proclab.procedures.schema import ContextVar, Procedure, Step, ValueNarration

Path_ = tuple[str | int, ...]
Where = Callable[[Path_], str]

MIN_STEP_NARRATIONS = 2
# A narration sharing this many consecutive words with the text it tells is a paste, not a
# paraphrase (the dataset's copy metric counts word 5-grams too).
COPY_RUN = 5
_WORD = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")
_SECOND_PERSON = re.compile(r"\b(you|your|yours|yourself)\b", re.IGNORECASE)
_SCHEMA_WORDS = re.compile(r"\b(whether|true|false|yes/no)\b", re.IGNORECASE)
_FIELDS = string.Formatter()


def words(text: str) -> list[str]:
    """Lower-case word tokens (what the copy check compares)."""
    return _WORD.findall(text.lower())


def shared_run(a: str, b: str, n: int = COPY_RUN) -> str | None:
    """The first run of `n` consecutive words of `a` that also occurs in `b`, or None."""
    wa, wb = words(a), words(b)
    grams = {tuple(wb[i : i + n]) for i in range(len(wb) - n + 1)}
    for i in range(len(wa) - n + 1):
        if tuple(wa[i : i + n]) in grams:
            return " ".join(wa[i : i + n])
    return None


def narration_problems(
    proc: Procedure, step_paths: Iterable[tuple[Path_, Step]], where: Where
) -> list[ProcedureError]:
    """Every narration problem of `proc`. `step_paths` gives each step with its data path."""
    out: list[ProcedureError] = []
    for path, step in step_paths:
        out += _step_problems(step, path, where)
    for name, var in proc.context.items():
        out += _var_problems(name, var, ("context", name, "narration"), where)
    return out


def _step_problems(step: Step, path: Path_, where: Where) -> list[ProcedureError]:
    if not step.is_observable:
        return []
    base = (*path, "narration")
    if len(step.narration) < MIN_STEP_NARRATIONS:
        return [ProcedureError(
            f"observable step {step.id!r} has {len(step.narration)} narration phrase(s), "
            f"needs at least {MIN_STEP_NARRATIONS}",
            where=where(base),
            fix="add past-tense phrases that follow the doer's name, e.g. "
            "`narration: [\"warned everyone at the nearby benches and kept them back\", ...]`",
        )]
    out: list[ProcedureError] = []
    seen: set[str] = set()
    for i, phrase in enumerate(step.narration):
        at = where((*base, i))
        problem = _phrase_problem(phrase)
        copied = shared_run(phrase, step.text)
        if problem:
            out.append(ProcedureError(f"narration {phrase!r}: {problem}", where=at,
                                      fix="write a past-tense verb phrase that follows a name, "
                                      "lower-case, no final period"))
        elif copied:
            out.append(ProcedureError(
                f"narration {phrase!r} copies {COPY_RUN} words of the step text: {copied!r}",
                where=at, fix="say what was done in other words"))
        elif phrase.lower() in seen:
            out.append(ProcedureError(f"narration {phrase!r} is listed twice", where=at,
                                      fix="make each phrasing different"))
        seen.add(phrase.lower())
    return out


def _phrase_problem(phrase: str) -> str | None:
    text = phrase.strip()
    if text != phrase or "  " in phrase:
        return "stray spaces"
    if not text or not text[0].islower():
        return "must start with a lower-case verb (it follows the doer's name)"
    if text[-1] in ".!?;:,":
        return "must not end with punctuation (templates add it)"
    if _SECOND_PERSON.search(text):
        return "addresses the reader ('you'); narrate in the third person"
    if "{" in text or "}" in text:
        return "braces are not allowed in step narration"
    if '"' in text:
        return "no quotations (only adversarial renderings quote the procedure)"
    return None


def _var_problems(name: str, var: ContextVar, path: Path_, where: Where) -> list[ProcedureError]:
    at = where(path)
    if var.narration is None:
        example = {"bool": "{true: ..., false: ...}", "str": "one sentence per value"}
        return [ProcedureError(
            f"context variable {name!r} has no narration",
            where=at,
            fix=f"add `narration:` ({example.get(var.type, 'a sentence with {value}')}), in "
            "plain past-tense sentences a scenario can state",
        )]
    numeric = var.type in ("int", "float")
    if numeric != isinstance(var.narration, ValueNarration):
        shape = "one sentence with {value}" if numeric else "a mapping from each value to a sentence"
        return [ProcedureError(f"a {var.type} variable's narration must be {shape}", where=at,
                               fix="see the schema docs (proclab.procedures.schema.ContextVar)")]
    if numeric:
        assert isinstance(var.narration, ValueNarration)
        return _sentence_problems(name, var, var.narration, None, path, where)
    assert isinstance(var.narration, dict)
    expected = ["true", "false"] if var.type == "bool" else list(var.values or [])
    out: list[ProcedureError] = []
    missing = [k for k in expected if k not in var.narration]
    extra = [k for k in var.narration if k not in expected]
    if missing:
        out.append(ProcedureError(f"narration of {name!r} lacks value(s) {missing}", where=at,
                                  fix=f"give a sentence for each of: {', '.join(expected)}"))
    if extra:
        out.append(ProcedureError(f"narration of {name!r} has unknown value(s) {extra}",
                                  where=at, fix=f"use only: {', '.join(expected)}"))
    for key, entry in var.narration.items():
        out += _sentence_problems(name, var, entry, key, (*path, key), where)
    return out


def _sentence_problems(name: str, var: ContextVar, entry: ValueNarration, key: str | None,
                       path: Path_, where: Where) -> list[ProcedureError]:
    text, at = entry.text, where(path)
    fields = {f for _, f, _, _ in _FIELDS.parse(text) if f is not None}
    problem = None
    if key is None and fields != {"value"}:
        problem = "a numeric variable's sentence must use {value} (and no other field)"
    elif key is not None and fields:
        problem = "only numeric variables' sentences take {value}"
    elif not text[:1].isupper() or text[-1] not in ".!":
        problem = "must be a complete sentence (capital letter, final period)"
    elif name in text or (var.type == "str" and any("_" in v and v in text for v in var.values or [])):
        problem = "shows the variable's name or a raw value id; say it in words"
    elif _SCHEMA_WORDS.search(text):
        problem = "reads like a form (whether/true/false); state the fact"
    elif _SECOND_PERSON.search(text):
        problem = "addresses the reader ('you')"
    elif var.description and shared_run(text, var.description):
        problem = f"copies {COPY_RUN} words of the variable's description"
    if problem is None and key is None:
        try:
            text.format(value=var.default)
        except (ValueError, IndexError, KeyError) as err:
            problem = f"cannot be formatted with the default value ({err})"
    if problem is None:
        return []
    return [ProcedureError(f"narration {text!r}: {problem}", where=at,
                           fix="write a plain past-tense sentence a scenario can state")]
