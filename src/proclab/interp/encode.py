"""Token-level pairs: prompts teacher-forced through the answer prefix, the two verdict tokens,
and the positions a patch covers.

Each side is `chat(prompt) + "Final answer:"` followed by as much of the answer as both words
share, so the next token is the first one where the two verdict words differ: the metric is a
next-token decision even for multi-token words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from proclab.errors import ConfigError, DataError, ProclabError
from proclab.interp.pairs import PatchPair, Side
from proclab.prompts import FINAL_ANSWER_PREFIX, REFERENCE_ORDER, build_messages, render_chat

BLOCK_SPANS: tuple[str, ...] = ("procedure", "scenario", "question")
_HEADINGS = {"procedure": "Procedure:\n", "scenario": "Scenario:\n", "question": "Question:\n"}


@dataclass(frozen=True)
class Encoded:
    """One side: token ids up to the decision, and the token span of each prompt block."""

    ids: tuple[int, ...]
    blocks: dict[str, tuple[int, int]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class EncodedPair:
    """A pair ready to patch. Metric: logit(base_token) - logit(exp_token) at the last position."""

    pair_id: str
    kind: str
    base: Encoded
    exp: Encoded
    base_token: int
    exp_token: int

    @property
    def aligned(self) -> bool:
        """Same token count on both sides, so position i means the same slot in both."""
        return len(self.base) == len(self.exp)

    @property
    def shared_prefix(self) -> int:
        """How many leading tokens the two sides have in common."""
        n = 0
        for a, b in zip(self.base.ids, self.exp.ids, strict=False):
            if a != b:
                break
            n += 1
        return n


def encode_pair(
    tokenizer: Any,
    pair: PatchPair,
    *,
    answer_prefix: str = FINAL_ANSWER_PREFIX,
    order: str = REFERENCE_ORDER,
) -> EncodedPair:
    """Tokenize both sides; the verdict tokens must agree between them."""
    words = (pair.base.answer, pair.exp.answer)
    base, base_toks = _encode_side(tokenizer, pair.base, words, answer_prefix, order, pair.pair_id)
    exp, exp_toks = _encode_side(tokenizer, pair.exp, words, answer_prefix, order, pair.pair_id)
    if base_toks != exp_toks:
        raise DataError(
            f"pair {pair.pair_id}: the verdict words tokenize differently on its two sides",
            fix="use an answer prefix that ends the prompt cleanly (e.g. 'Final answer:')",
        )
    return EncodedPair(pair.pair_id, pair.kind, base, exp, *base_toks)


def _encode_side(
    tokenizer: Any, side: Side, words: tuple[str, str], prefix: str, order: str, pair_id: str
) -> tuple[Encoded, tuple[int, int]]:
    text = render_chat(tokenizer, build_messages(side.record(), order=order)) + prefix
    full = [_tokenize(tokenizer, f"{text} {word}") for word in words]
    ids_a, ids_b = full[0]["input_ids"], full[1]["input_ids"]
    k = 0
    while k < min(len(ids_a), len(ids_b)) and ids_a[k] == ids_b[k]:
        k += 1
    if k >= min(len(ids_a), len(ids_b)):
        raise DataError(
            f"pair {pair_id}: the answers {words[0]!r} and {words[1]!r} share every token",
            fix="use label words whose tokens differ",
        )
    offsets = full[0].get("offset_mapping")
    blocks = _block_spans(text, side, offsets[:k]) if offsets is not None else {}
    return Encoded(tuple(ids_a[:k]), blocks), (ids_a[k], ids_b[k])


def _tokenize(tokenizer: Any, text: str) -> dict[str, Any]:
    try:
        return tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    except (NotImplementedError, ValueError):  # slow tokenizers have no offsets
        return tokenizer(text, add_special_tokens=False)


def _block_spans(
    text: str, side: Side, offsets: Sequence[tuple[int, int]]
) -> dict[str, tuple[int, int]]:
    contents = {"procedure": side.procedure_text, "scenario": side.scenario_text,
                "question": side.question}  # fmt: skip
    spans: dict[str, tuple[int, int]] = {}
    for block, content in contents.items():
        needle = _HEADINGS[block] + content.strip()
        at = text.find(needle)
        if at < 0:
            continue
        start, end = at + len(_HEADINGS[block]), at + len(needle)
        inside = [i for i, (a, b) in enumerate(offsets) if b > start and a < end]
        if inside:
            spans[block] = (inside[0], inside[-1] + 1)
    return spans


# ---- spans: which positions a patch covers -------------------------------------------------

_LAST = re.compile(r"^last:(\d+)$")
_RANGE = re.compile(r"^(-?\d+):(-?\d+)$")


def check_span(spec: str) -> str:
    """Validate a span name: final | last:K | procedure | scenario | question | all | A:B."""
    spec = spec.strip().lower()
    if spec in ("final", "all", *BLOCK_SPANS) or _LAST.match(spec) or _RANGE.match(spec):
        if (m := _LAST.match(spec)) and int(m.group(1)) < 1:
            raise ConfigError(f"span {spec!r} covers no token", fix="use last:K with K >= 1")
        return spec
    raise ConfigError(
        f"unknown span {spec!r}",
        fix="use final, last:K, procedure, scenario, question, all, or a token range A:B",
    )


def end_anchored(spec: str) -> bool:
    """Spans counted from the end map between sides of different lengths."""
    return spec == "final" or bool(_LAST.match(spec))


def span_offsets(pair: EncodedPair, spec: str) -> list[int]:
    """The patched positions as negative offsets from the end (-1 = the decision position);
    the same offsets index both sides. Non-end-anchored spans need an aligned pair."""
    spec = check_span(spec)
    n = len(pair.exp)
    if end_anchored(spec):
        k = 1 if spec == "final" else int(spec.split(":")[1])
        k = min(k, len(pair.exp), len(pair.base))
        return list(range(-k, 0))
    if not pair.aligned:
        raise ProclabError(
            f"pair {pair.pair_id}: base and experimental prompts have {len(pair.base)} and "
            f"{n} tokens, so span {spec!r} has no position-by-position match",
            fix="patch with --span final (or last:K), or drop unaligned pairs (--aligned-only)",
        )
    if spec == "all":
        start, stop = 0, n
    elif spec in BLOCK_SPANS:
        if spec not in pair.exp.blocks:
            raise ProclabError(
                f"pair {pair.pair_id}: cannot locate the {spec} block in the prompt",
                fix="use a fast tokenizer (offsets needed) and the reference prompt format",
            )
        start, stop = pair.exp.blocks[spec]
    else:
        a, b = (int(x) for x in spec.split(":"))
        start, stop = (a + n if a < 0 else a), (b + n if b < 0 else b)
    if not 0 <= start < stop <= n:
        raise ConfigError(f"span {spec!r} is empty for a {n}-token prompt", fix="widen the span")
    return [p - n for p in range(start, stop)]
