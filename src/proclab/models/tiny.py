"""Tiny local chat models: a Qwen2-architecture causal LM with random weights and a byte-level
BPE tokenizer trained on the corpus text, so tests and the demo never download anything.

Same arguments + same corpus + same library versions -> byte-identical files.
`tiny_model_path()` builds once into a cache directory shared by tests and the demo.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from proclab.errors import ConfigError, ErrorList, ProclabError

ENDOFTEXT = "<|endoftext|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
SPECIAL_TOKENS: tuple[str, ...] = (ENDOFTEXT, IM_START, IM_END)

# ChatML as Qwen2.5 lays it out, written for proclab: no default system message (proclab's
# prompt has none), and the assistant content + <|im_end|> inside {% generation %} so
# `return_assistant_tokens_mask=True` marks exactly what assistant-only loss trains on.
CHAT_TEMPLATE = """\
{%- for message in messages %}
    {%- if message.role == 'assistant' %}
        {{- '<|im_start|>assistant\\n' }}
        {%- generation %}
            {{- message.content + '<|im_end|>' }}
        {%- endgeneration %}
        {{- '\\n' }}
    {%- else %}
        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
"""

# Bump when the build recipe changes, so cached models from an older recipe are not reused.
_RECIPE_VERSION = 2
_BYTE_ALPHABET = 256
# Ten times the usual 0.02: at 0.02 the tied embeddings dominate the residual stream and greedy
# decoding just repeats the last prompt token, which makes order/batching tests vacuous.
_INIT_STD = 0.2


@dataclass(frozen=True)
class TinySpec:
    """The size of a tiny model; validated as a whole by `check()`."""

    vocab_size: int = 2048
    num_layers: int = 2
    hidden_size: int = 64
    # 8 heads of width 8 cost no more than 4 of width 16, and give head-level probes (and
    # their per-head speed-ups, which grow with the head count) something to rank.
    num_heads: int = 8
    num_kv_heads: int = 2
    intermediate_size: int = 128
    max_position_embeddings: int = 4096
    seed: int = 0

    def check(self) -> None:
        """Raise one error naming every invalid field."""
        problems: list[str] = []
        floor = _BYTE_ALPHABET + len(SPECIAL_TOKENS)
        if self.vocab_size < floor:
            problems.append(f"vocab_size={self.vocab_size}: must be at least {floor} (bytes + specials)")
        for name in ("num_layers", "hidden_size", "num_heads", "num_kv_heads", "intermediate_size"):
            if getattr(self, name) < 1:
                problems.append(f"{name}={getattr(self, name)}: must be positive")
        if self.num_heads > 0 and self.hidden_size % self.num_heads:
            problems.append(
                f"hidden_size={self.hidden_size}: must be divisible by num_heads={self.num_heads}"
            )
        if self.num_kv_heads > 0 and self.num_heads % self.num_kv_heads:
            problems.append(
                f"num_heads={self.num_heads}: must be divisible by num_kv_heads={self.num_kv_heads}"
            )
        if self.max_position_embeddings < 16:
            problems.append("max_position_embeddings: must be at least 16")
        if problems:
            errors: list[ProclabError] = [
                ConfigError(p, fix="choose a consistent model size") for p in problems
            ]
            raise ErrorList(errors, what="invalid tiny-model size")


@functools.lru_cache(maxsize=1)
def corpus_texts() -> tuple[str, ...]:
    """Training text for the tokenizer: every corpus procedure's title, description, step and
    exception texts, plus its rendering in every house style (what prompts actually show).
    Computed once per process (rendering the corpus takes seconds; the corpus is package data)."""
    from proclab.procedures.corpus import load_corpus
    from proclab.procedures.styles import STYLES, render

    texts: list[str] = []
    for proc in load_corpus():
        texts += [proc.title, proc.description]
        texts += [step.text for step in proc.all_steps()]
        texts += [exc.text for exc in proc.exceptions]
        texts += [render(proc, style_id) for style_id in sorted(STYLES)]
    return tuple(t for t in texts if t.strip())


def train_tokenizer(texts: Iterable[str], *, vocab_size: int, model_max_length: int) -> Any:
    """A byte-level BPE tokenizer (Qwen2's pre-tokenizer and decoder) trained on `texts`, with
    eos `<|im_end|>`, pad `<|endoftext|>` and the proclab ChatML template."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast
    from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

    backend = Tokenizer(models.BPE(unk_token=None, fuse_unk=False, byte_fallback=False))
    backend.normalizer = normalizers.NFC()
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(list(texts), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=None,
        unk_token=None,
        eos_token=IM_END,
        pad_token=ENDOFTEXT,
        additional_special_tokens=[IM_START],
        model_max_length=model_max_length,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_model(spec: TinySpec, tokenizer: Any, *, initializer_range: float = _INIT_STD) -> Any:
    """A randomly initialised Qwen2ForCausalLM (fp32, tied embeddings) seeded by `spec.seed`;
    `initializer_range` defaults to the untrained tiny model's (a model to train wants 0.02)."""
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    eos_id = tokenizer.convert_tokens_to_ids(IM_END)
    pad_id = tokenizer.convert_tokens_to_ids(ENDOFTEXT)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_layers,
        num_attention_heads=spec.num_heads,
        num_key_value_heads=spec.num_kv_heads,
        max_position_embeddings=spec.max_position_embeddings,
        tie_word_embeddings=True,
        initializer_range=initializer_range,
        bos_token_id=None,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
    )
    # fork_rng: seeding must not disturb the caller's global RNG stream.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(spec.seed)
        model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(
        bos_token_id=None, eos_token_id=eos_id, pad_token_id=pad_id, do_sample=False
    )
    return model.eval()


def build_tiny_model(
    out_dir: str | Path,
    *,
    texts: Iterable[str] | None = None,
    vocab_size: int = 2048,
    num_layers: int = 2,
    hidden_size: int = 64,
    num_heads: int = 8,
    num_kv_heads: int = 2,
    intermediate_size: int = 128,
    max_position_embeddings: int = 4096,
    seed: int = 0,
) -> Path:
    """Build the tokenizer (trained on `texts`, default: the corpus) and the model, and
    `save_pretrained` both into `out_dir`; returns `out_dir`. Reload with the Auto classes."""
    spec = TinySpec(
        vocab_size, num_layers, hidden_size, num_heads, num_kv_heads,
        intermediate_size, max_position_embeddings, seed,
    )  # fmt: skip
    spec.check()
    corpus = list(corpus_texts() if texts is None else texts)
    if not any(t.strip() for t in corpus):
        raise ConfigError("no text to train the tokenizer on", fix="pass non-empty `texts`")
    tokenizer = train_tokenizer(
        corpus, vocab_size=spec.vocab_size, model_max_length=spec.max_position_embeddings
    )
    model = build_model(spec, tokenizer)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(out)
    model.save_pretrained(out)
    return out


def build_key(spec: TinySpec, texts: Sequence[str]) -> str:
    """A short hash of everything the built files depend on (args, text, recipe, versions)."""
    import tokenizers
    import torch
    import transformers

    payload = {
        "spec": asdict(spec),
        "texts": hashlib.sha256("\x00".join(texts).encode("utf-8")).hexdigest(),
        "template": CHAT_TEMPLATE,
        "recipe": _RECIPE_VERSION,
        "versions": [transformers.__version__, tokenizers.__version__, torch.__version__],
    }
    blob = json.dumps(payload, sort_keys=True).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:16]


def default_cache_dir() -> Path:
    """`$PROCLAB_CACHE` if set, else `~/.cache/proclab`."""
    env = os.environ.get("PROCLAB_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "proclab"


def tiny_model_path(cache_dir: str | Path | None = None, **size: int) -> Path:
    """The tiny model built on the corpus, built once into `<cache>/tiny-<hash>` and reused.

    `size` overrides `TinySpec` fields (e.g. `num_layers=1`); each size gets its own directory.
    """
    spec = TinySpec(**size)
    spec.check()
    texts = corpus_texts()
    target = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = target / f"tiny-{build_key(spec, texts)}"
    if (target / "config.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # Build beside the target and rename into place: a concurrent builder (test + demo) never
    # sees a half-written directory, and whoever renames second just drops its copy.
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the cache is an ordinary folder
    try:
        build_tiny_model(staging, texts=texts, **asdict(spec))
        try:
            staging.rename(target)
        except OSError:
            if not (target / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


@dataclass(frozen=True)
class ModelSummary:
    """What `proclab models tiny` reports about a saved model."""

    path: Path
    parameters: int
    vocab_size: int
    layers: int
    hidden_size: int


def summarize(path: str | Path) -> ModelSummary:
    """Parameter count and sizes of a saved causal LM (loads it on CPU)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(path)
    tokenizer = AutoTokenizer.from_pretrained(path)
    return ModelSummary(
        path=Path(path),
        parameters=sum(p.numel() for p in model.parameters()),
        vocab_size=len(tokenizer),
        layers=model.config.num_hidden_layers,
        hidden_size=model.config.hidden_size,
    )
