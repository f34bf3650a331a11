"""What a scenario says about a step and a context value, taken from the procedure's own
narration fields (`Step.narration`, `ContextVar.narration`; see proclab.procedures.narration).

The narrator never turns step text into narration: every event is told with one of the step's
authored past-tense phrases, every fact with its value's authored sentence. The only place step
text reaches a scenario is `quote_text`, for renderings that quote the procedure on purpose.
"""

from __future__ import annotations

import re

from proclab.procedures.schema import ContextVar, Step
from proclab.scenarios.keyed import Keyed
from proclab.scenarios.types import RenderError

# How often a plain rendering tells a step with its first (plain) phrasing; the other
# phrasings share the rest. Lexical paraphrase uses only the others.
FIRST_PHRASE_SHARE = 0.6
_ABBREVIATIONS = (("e.g.", "for example"), ("i.e.", "that is"), ("etc.", "and so on"))
_INNER_STOP = re.compile(r"\.\s+(?=\S)")


def phrases_of(step: Step, procedure_id: str) -> list[str]:
    """The step's authored event phrasings; a RenderError when it has none."""
    if not step.narration:
        raise RenderError(
            f"step {step.id!r} has no narration, so no scenario can tell it",
            where=f"procedure {procedure_id}, step {step.id}",
            fix="add `narration:` (past-tense phrases that follow the doer's name) to the step; "
            "`proclab procedures validate` lists every step that lacks one",
        )
    return step.narration


def pick_phrase(step: Step, procedure_id: str, keyed: Keyed, *, paraphrase: bool) -> str:
    """The phrasing that tells `step`, keyed by its id (both members of a counterfactual pair
    tell a step the same way). Paraphrase: one of the non-first phrasings."""
    phrases = phrases_of(step, procedure_id)
    key = f"ph:{step.id}"
    if len(phrases) == 1:
        return phrases[0]
    if paraphrase:
        return keyed.pick(key, phrases[1:])
    if keyed.chance(key + ":first", FIRST_PHRASE_SHARE):
        return phrases[0]
    return keyed.pick(key, phrases[1:])


def quote_text(text: str) -> str:
    """A step text as one quotable clause: no final period, no inner full stops (they would
    split the sentence), abbreviations written out."""
    out = text.strip().rstrip(".").strip()
    for abbr, full in _ABBREVIATIONS:
        out = out.replace(abbr, full)
    return _INNER_STOP.sub("; ", out).replace('"', "'")


# -- context facts ------------------------------------------------------------------------------


def shown_value(var: ContextVar, value: bool | int | float | str) -> bool | int | float | str:
    """The value as a number template receives it: a whole float as an int (2.0 -> 2)."""
    if var.type == "float" and float(value).is_integer():
        return int(value)
    if var.type == "int":
        return int(value)
    return value


def fact_sentence(name: str, var: ContextVar, value: bool | int | float | str) -> str:
    """The authored sentence stating `name = value` (numbers formatted into `{value}`)."""
    entry = var.narration_for(value)
    if entry is None:
        raise RenderError(
            f"context variable {name!r} has no narration for the value {value!r}",
            where=f"context.{name}.narration",
            fix="give the variable a sentence for every value (see ContextVar.narration)",
        )
    if var.type in ("int", "float"):
        return _SINGULAR.sub(r"\1 \2", entry.text.format(value=shown_value(var, value)))
    return entry.text


# "for {value} days" with a value of 1 reads "for 1 day" (units the corpus counts in).
_SINGULAR = re.compile(r"\b(1|one) (second|minute|hour|day|week|month|year|working day)s\b")
