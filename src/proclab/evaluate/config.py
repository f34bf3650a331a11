"""The run config of `proclab eval run`, validated up front (every bad field named at once).

A run directory belongs to one config *identity*: everything that changes the answers
(evaluator, model, adapter, data hash, split, decoding). `limit` and `orders` only select which
samples to run, so rerunning with a larger limit or more orders extends the same log.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from proclab.errors import ConfigError, ErrorList
from proclab.infer.base import GenerationConfig
from proclab.prompts import ORDERS, REFERENCE_ORDER
from proclab.registry import lookup

# Option names whose values are never written to disk (API keys belong in the environment);
# `*_env` options name an environment variable, which is not a secret.
_SECRET = re.compile(r"(?i)key|token|secret|password|auth")


def _is_secret(name: str) -> bool:
    return bool(_SECRET.search(name)) and not name.lower().endswith("_env")


class EvalConfig(BaseModel):
    """What to evaluate and how; `options` go to the backend factory unchanged."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: str
    data: str
    model: str | None = None
    adapter: str | None = None
    split: str | None = None
    pairs: bool = False
    orders: list[str] = Field(default_factory=lambda: [REFERENCE_ORDER], min_length=1)
    limit: int | None = Field(None, ge=1)
    seed: int = 0
    batch_size: int = Field(8, ge=1)
    max_new_tokens: int = Field(512, ge=1)
    temperature: float = Field(0.0, ge=0.0)
    resamples: int = Field(1000, ge=0, le=100_000)
    options: dict[str, Any] = Field(default_factory=dict)

    def generation(self) -> GenerationConfig:
        return GenerationConfig(max_new_tokens=self.max_new_tokens, temperature=self.temperature,
                                seed=self.seed, batch_size=self.batch_size)

    def public(self) -> dict[str, Any]:
        """The config as written to results.json: secret-looking option values redacted."""
        data = self.model_dump(mode="json")
        data["options"] = {k: ("<redacted>" if _is_secret(k) else v)
                           for k, v in sorted(self.options.items())}
        return data

    def identity(self, data_sha256: str) -> dict[str, Any]:
        public = self.public()
        keys = ("backend", "model", "adapter", "split", "pairs", "seed", "max_new_tokens",
                "temperature", "options")
        return {"data_sha256": data_sha256, **{k: public[k] for k in keys}}

    def identity_sha256(self, data_sha256: str) -> str:
        text = json.dumps(self.identity(data_sha256), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def make_config(**fields: Any) -> EvalConfig:
    """Validate `fields` into an EvalConfig; all invalid fields and order names in one error."""
    errors: list[ConfigError] = []
    try:
        config = EvalConfig(**fields)
    except ValidationError as err:
        for e in err.errors():
            loc = ".".join(str(p) for p in e["loc"])
            errors.append(ConfigError(e["msg"], where=loc, fix="fix this option"))
        raise ErrorList(list(errors), what="invalid evaluation config") from None
    for name in config.orders:
        try:
            lookup(ORDERS, name, kind="prompt order")
        except ConfigError as err:
            errors.append(err)
    if errors:
        raise errors[0] if len(errors) == 1 else ErrorList(list(errors), what="bad prompt orders")
    return config
