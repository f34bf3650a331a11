"""Answer parsing and scoring: the last verdict in the text wins; never guess.

The negative word is matched before the positive one at every position, so "NON-COMPLIANT"
never scores as COMPLIANT. Variants: any case, hyphen/space/none ("non-compliant",
"non compliant", "noncompliant") and "not <positive>" ("not compliant").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from proclab.procedures.trace import COMPLIANT, NON_COMPLIANT, Verdict

FINAL_ANSWER_PREFIX = "Final answer:"


def _word_pattern(word: str) -> str:
    """Regex for a label word where any hyphen or space may also be a space, hyphen or absent."""
    parts = re.split(r"[-\s]+", word.strip())
    return r"[-\s]?".join(re.escape(p) for p in parts)


@dataclass(frozen=True)
class LabelWords:
    """The two answer words. Swappable (e.g. for answer-mapping probes or other languages)."""

    compliant: str = "COMPLIANT"
    noncompliant: str = "NON-COMPLIANT"
    extra_negative: tuple[str, ...] = field(default=())

    @cached_property
    def regex(self) -> re.Pattern[str]:
        negatives = [_word_pattern(self.noncompliant), *map(_word_pattern, self.extra_negative)]
        if not re.match(r"(?i)non", self.compliant):
            negatives.append(r"not\s+" + _word_pattern(self.compliant))
        neg = "|".join(sorted(negatives, key=len, reverse=True))
        # Word boundaries only where the word edge is alphanumeric.
        return re.compile(
            rf"(?<![\w-])(?:(?P<neg>{neg})|(?P<pos>{_word_pattern(self.compliant)}))(?![\w])",
            re.IGNORECASE,
        )

    def word_for(self, verdict: Verdict) -> str:
        return self.compliant if verdict == COMPLIANT else self.noncompliant


DEFAULT_LABELS = LabelWords()


def parse_verdict(text: str | None, labels: LabelWords = DEFAULT_LABELS) -> Verdict | None:
    """The last verdict stated in `text`, or None when there is none (reported as unparsed)."""
    if not text:
        return None
    last: Verdict | None = None
    for match in labels.regex.finditer(text):
        last = NON_COMPLIANT if match.group("neg") else COMPLIANT
    return last


def final_answer_line(verdict: Verdict, labels: LabelWords = DEFAULT_LABELS) -> str:
    return f"{FINAL_ANSWER_PREFIX} {labels.word_for(verdict)}"


def score_output(text: str | None, gold: Verdict, labels: LabelWords = DEFAULT_LABELS) -> float:
    """1.0 when the parsed verdict equals the gold label, else 0.0 (unparsed scores 0)."""
    return 1.0 if parse_verdict(text, labels) == gold else 0.0


def _completion_text(completion: Any) -> str:
    # TRL passes plain strings for standard datasets and message lists for conversational ones.
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion and isinstance(completion[-1], dict):
        return str(completion[-1].get("content", ""))
    return str(completion)


def verdict_reward(completions: list[Any], label: list[str], **_: Any) -> list[float]:
    """TRL-style reward function `(completions, **columns) -> list[float]`: 1 when the parsed
    verdict equals the gold `label` column, else 0. Calls the same grader as evaluation."""
    return [
        score_output(_completion_text(c), gold)  # type: ignore[arg-type]
        for c, gold in zip(completions, label, strict=True)
    ]
