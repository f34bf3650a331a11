"""The run config of `proclab eval run`, validated up front (every bad field named at once).

A run directory belongs to one config *identity*: everything that changes the answers
(evaluator, model, adapter, data hash, split, decoding). `limit` and `orders` only select which
samples to run, so rerunning with a larger limit or more orders extends the same log; the
field and label maps of mapped data change what is asked and scored, so they are identity
(only when set, so runs of proclab data keep their identity hash); `breakdown` only changes
the analysis. A config file (`proclab eval run --config FILE`) holds the same fields.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from proclab.configfile import read_yaml_mapping
from proclab.errors import ConfigError, ErrorList
from proclab.evaluate.mapping import check_spec
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

    backend: str = "hf"
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
    # Data in another layout: schema field -> column (or @FILE); label value -> verdict | skip.
    map: dict[str, str] = Field(default_factory=dict)
    label_map: dict[str, str] = Field(default_factory=dict)
    breakdown: list[str] | None = None  # metadata columns to break down (None: automatic)

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
        identity = {"data_sha256": data_sha256, **{k: public[k] for k in keys}}
        for key in ("map", "label_map"):
            if public[key]:
                identity[key] = public[key]
        return identity

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
    errors += check_spec(config.map, config.label_map)
    if errors:
        raise errors[0] if len(errors) == 1 else ErrorList(list(errors),
                                                          what="invalid evaluation config")
    return config


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The fields of an eval config file (YAML), validated later by `make_config` together
    with the command line. Label-map keys YAML reads as booleans (`Yes:`) must be quoted."""
    raw = read_yaml_mapping(path)
    if isinstance(raw.get("orders"), str):
        from proclab.prompts.format import parse_order_list

        raw["orders"] = parse_order_list(raw["orders"])
    for key in ("map", "label_map"):
        section = raw.get(key)
        if section is None:
            continue
        if not isinstance(section, dict):
            raise ConfigError(f"`{key}` must be a mapping", where=f"{path}: {key}",
                              fix=f"write `{key}:` followed by `name: value` lines")
        for k, v in section.items():
            if isinstance(k, bool) or isinstance(v, bool):
                raise ConfigError(f"`{key}` holds a bare yes/no/true/false, which YAML reads as "
                                  "a boolean", where=f"{path}: {key}",
                                  fix="quote it: 'Yes': NON-COMPLIANT")
        raw[key] = {str(k): str(v) for k, v in section.items()}
    return raw
