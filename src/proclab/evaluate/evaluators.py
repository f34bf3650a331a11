"""What answers the questions: an inference backend (hf, openai, vllm) or a reference baseline
(oracle, majority, surface). `EVALUATORS` is the one registry; `--backend` names an entry."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from proclab.errors import ConfigError
from proclab.evaluate.baselines import MajorityBaseline, OracleBaseline, SurfaceBaseline
from proclab.evaluate.config import EvalConfig
from proclab.evaluate.data import EvalData
from proclab.evaluate.records import EvalRecord
from proclab.infer.base import Backend, Generation, GenerationConfig, Message
from proclab.registry import lookup


@runtime_checkable
class Evaluator(Protocol):
    """Answers a batch: records (for baselines) and their chat prompts (for models)."""

    name: str
    info: dict[str, Any]  # what the results should record about it (label, probe, ...)

    def answer(self, records: Sequence[EvalRecord], prompts: Sequence[list[Message]],
               config: GenerationConfig) -> list[Generation]: ...


class BackendEvaluator:
    """A model behind a `proclab.infer` backend; sees only the prompts."""

    def __init__(self, backend: Backend, info: dict[str, Any]):
        self.backend = backend
        self.name = backend.name
        self.info = info

    def answer(self, records: Sequence[EvalRecord], prompts: Sequence[list[Message]],
               config: GenerationConfig) -> list[Generation]:
        return self.backend.generate(prompts, config)

    def close(self) -> None:
        """Release what the backend holds (e.g. the API response cache), if it can."""
        close = getattr(self.backend, "close", None)
        if callable(close):
            close()


EvaluatorFactory = Callable[[EvalConfig, EvalData], Evaluator]


def _backend(name: str) -> EvaluatorFactory:
    def make(config: EvalConfig, data: EvalData) -> Evaluator:
        if not config.model:
            raise ConfigError(f"backend {name!r} needs a model", fix="pass --model NAME_OR_PATH")
        # Imported here: torch / httpx / vllm load only when a model backend is asked for.
        from proclab.infer.registry import load_backend

        backend = load_backend(name, model=config.model, adapter=config.adapter,
                               **config.options)
        return BackendEvaluator(backend, {"model": config.model, "adapter": config.adapter})

    return make


def _no_model(config: EvalConfig, name: str) -> None:
    if config.adapter:
        raise ConfigError(f"the {name} baseline takes no adapter", fix="drop --adapter")


def _oracle(config: EvalConfig, data: EvalData) -> Evaluator:
    _no_model(config, "oracle")
    if data.mapping is not None:
        raise ConfigError("the oracle baseline needs proclab's structured records (trace and "
                          "context); this data was mapped from another layout",
                          fix="evaluate a model, or the majority baseline, on it")
    return OracleBaseline()


def _majority(config: EvalConfig, data: EvalData) -> Evaluator:
    _no_model(config, "majority")
    return MajorityBaseline.from_data(data)


def _surface(config: EvalConfig, data: EvalData) -> Evaluator:
    _no_model(config, "surface")
    return SurfaceBaseline.from_data(data, probe=config.options.get("probe"))


EVALUATORS: dict[str, EvaluatorFactory] = {
    "hf": _backend("hf"),
    "openai": _backend("openai"),
    "vllm": _backend("vllm"),
    "oracle": _oracle,
    "majority": _majority,
    "surface": _surface,
}
BASELINES: tuple[str, ...] = ("oracle", "majority", "surface")


def make_evaluator(config: EvalConfig, data: EvalData) -> Evaluator:
    """The evaluator `config.backend` names ("did you mean" on unknown names)."""
    return lookup(EVALUATORS, config.backend, kind="backend")(config, data)
