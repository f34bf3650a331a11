"""The typed config of a head study (`proclab interp heads`); every bad field is named at once."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from proclab.errors import ConfigError, ErrorList, ProclabError
from proclab.interp.encode import check_span
from proclab.interp.pairs import DECISION_KINDS
from proclab.prompts import DEFAULT_LABELS, FINAL_ANSWER_PREFIX, ORDERS, REFERENCE_ORDER, LabelWords

SCHEMA_VERSION = 1


class InterpConfig(BaseModel):
    """What to patch, on which pairs, and how the scores are aggregated."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    adapter: str | None = None
    pairs: str
    kinds: list[str] = Field(default_factory=lambda: list(DECISION_KINDS))
    mapping: bool = True  # also run the answer-mapping swap set (retrieval heads)
    spans: list[str] = Field(default_factory=lambda: ["final"])  # decision pairs' patch spans
    compliant_word: str = DEFAULT_LABELS.compliant
    noncompliant_word: str = DEFAULT_LABELS.noncompliant
    answer_prefix: str = FINAL_ANSWER_PREFIX
    order: str = REFERENCE_ORDER
    margin: float | None = 0.0  # correctness filter; None keeps every pair
    max_pairs: int = Field(32, ge=1)  # kept pairs per condition
    aligned_only: bool = False  # drop (instead of refusing) unaligned pairs for span patches
    confirm: int | None = Field(None, ge=1)  # exact-patch only the AtP top-N heads
    top_k: int = Field(10, ge=1)
    qk_fix: bool = False
    batch_size: int | None = Field(None, ge=1)  # patched rows per forward (default: heads)
    resamples: int = Field(2000, ge=0)
    permutations: int = Field(2000, ge=1)
    alpha: float = Field(0.05, gt=0, lt=1)
    seed: int = 0
    bands: tuple[float, float] = (1 / 3, 2 / 3)  # early | middle | late layer fractions
    attention_heads: int = Field(6, ge=0)
    attention_pairs: int = Field(8, ge=1)
    device: str | None = None
    dtype: str | None = None

    @field_validator("kinds")
    @classmethod
    def _kinds(cls, v: list[str]) -> list[str]:
        bad = sorted(set(v) - set(DECISION_KINDS))
        if bad or not v:
            raise ValueError(f"use some of {', '.join(DECISION_KINDS)} (got {bad or 'none'})")
        return v

    @field_validator("spans")
    @classmethod
    def _spans(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("give at least one span")
        try:
            return [check_span(s) for s in v]
        except ProclabError as err:
            raise ValueError(err.what) from None

    @field_validator("order")
    @classmethod
    def _order(cls, v: str) -> str:
        if v not in ORDERS:
            raise ValueError(f"use one of {', '.join(ORDERS)}")
        return v

    @model_validator(mode="after")
    def _bands_and_words(self) -> InterpConfig:
        lo, hi = self.bands
        if not 0 < lo < hi < 1:
            raise ValueError("bands must satisfy 0 < early < late < 1")
        if self.compliant_word.strip().lower() == self.noncompliant_word.strip().lower():
            raise ValueError("the two label words must differ")
        return self

    @property
    def labels(self) -> LabelWords:
        return LabelWords(compliant=self.compliant_word, noncompliant=self.noncompliant_word)

    @property
    def conditions(self) -> list[tuple[str, str]]:
        """(pair set, span) runs: decision pairs on every span, mapping pairs at the final one."""
        runs = [("decision", span) for span in self.spans]
        return runs + ([("mapping", "final")] if self.mapping else [])


def make_config(**fields: Any) -> InterpConfig:
    """Validate `fields`; one ConfigError per invalid field, all raised together."""
    try:
        return InterpConfig(**fields)
    except ValidationError as err:
        errors: list[ProclabError] = [
            ConfigError(e["msg"].removeprefix("Value error, "),
                        where=".".join(str(p) for p in e["loc"]) or "config",
                        fix="fix this option")  # fmt: skip
            for e in err.errors()
        ]
        raise ErrorList(errors, what="invalid interp settings") from None
