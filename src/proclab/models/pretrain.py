"""`pretrain(config, data_dir)`: a small Qwen2-architecture base model, pretrained full-parameter
as a causal LM on the training side of a built dataset (`proclab.models.corpus`).

The byte-level BPE tokenizer is trained on the corpus (its text without chat markup) with the
proclab chat template, the documents are packed into `train.seq_len` blocks, and a transformers
`Trainer` runs with checkpoints every `save_steps`. The output folder is a normal chat base
(`AutoTokenizer` / `AutoModelForCausalLM`) plus `proclab-pretrain.json`. A rerun into the same
folder with the same config and data resumes from the last checkpoint, or returns at once when
the run is finished; without `out` the run goes to `<cache>/pretrain-<key>`.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proclab.errors import ConfigError
from proclab.models.corpus import (
    Corpus,
    build_corpus,
    check_no_heldout,
    data_sha256,
    read_manifest,
)
from proclab.models.pretrain_config import PretrainConfig
from proclab.models.tiny import ENDOFTEXT, build_model, default_cache_dir, train_tokenizer

MANIFEST_FILE = "proclab-pretrain.json"
CHECKPOINTS = "checkpoints"
SCHEMA_VERSION = 1
# Bump when the recipe changes, so cached bases from an older recipe are not reused.
_RECIPE_VERSION = 1


@dataclass(frozen=True)
class PretrainOutcome:
    path: Path
    manifest: dict[str, Any]
    reused: bool


def versions() -> dict[str, str]:
    import tokenizers
    import torch
    import transformers

    import proclab

    return {"proclab": proclab.__version__, "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__, "torch": torch.__version__}


def run_key(config: PretrainConfig, data_dir: str | Path) -> str:
    """A short hash of everything the run depends on: config, the data files the corpus is
    generated from (the corpus is a function of them and the proclab version), versions."""
    payload = {"config": config.sha256(), "data": data_sha256(data_dir, config.corpus.splits),
               "versions": versions(), "recipe": _RECIPE_VERSION}
    blob = json.dumps(payload, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def pretrain(config: PretrainConfig, data_dir: str | Path, out: str | Path | None = None,
             progress: bool = True, *, overwrite: bool = False) -> Path:
    """Pretrain (or reuse) the base model; returns its folder."""
    return run_pretrain(config, data_dir, out, progress=progress, overwrite=overwrite).path


def run_pretrain(config: PretrainConfig, data_dir: str | Path, out: str | Path | None = None,
                 *, progress: bool = True, overwrite: bool = False) -> PretrainOutcome:
    key = run_key(config, data_dir)
    if out is None:
        target = default_cache_dir() / f"pretrain-{key}"
        finished = _finished(target, key)
        if finished is not None:
            return PretrainOutcome(target, finished, reused=True)
        # A fixed staging name (not mkdtemp), so an interrupted cache build resumes.
        staging = target.parent / f".pretrain-{key}.partial"
        manifest = _train_into(staging, config, data_dir, key, progress)
        try:
            staging.rename(target)
        except OSError:
            if _finished(target, key) is None:
                raise
            shutil.rmtree(staging, ignore_errors=True)
        return PretrainOutcome(target, manifest, reused=False)
    out = Path(out)
    finished = _prepare_out(out, key, overwrite)
    if finished is not None:
        return PretrainOutcome(out, finished, reused=True)
    return PretrainOutcome(out, _train_into(out, config, data_dir, key, progress), reused=False)


def _read(out: Path) -> dict[str, Any] | None:
    path = out / MANIFEST_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _finished(out: Path, key: str) -> dict[str, Any] | None:
    manifest = _read(out)
    ok = manifest is not None and manifest.get("key") == key and manifest.get("done")
    return manifest if ok else None


def _prepare_out(out: Path, key: str, overwrite: bool) -> dict[str, Any] | None:
    """The finished manifest when `out` holds this very run; clears `out` with `overwrite`;
    refuses an `out` that holds another run or other files."""
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        return None
    manifest = _read(out)
    if manifest is not None and manifest.get("key") == key and not overwrite:
        return manifest if manifest.get("done") else None
    if not overwrite:
        what = ("was pretrained with a different config or data" if manifest is not None
                else "exists and is not a proclab pretraining run")
        raise ConfigError(f"{out} {what}", where=str(out),
                          fix="choose another --out, or pass --overwrite to replace it")
    if out.is_dir():
        shutil.rmtree(out)
    else:
        out.unlink()
    return None


def _train_into(out: Path, config: PretrainConfig, data_dir: str | Path, key: str,
                progress: bool) -> dict[str, Any]:
    import torch

    if config.train.threads:
        torch.set_num_threads(config.train.threads)
    started = time.perf_counter()
    data_manifest = read_manifest(data_dir)
    corpus = build_corpus(config.corpus, data_dir)
    if not corpus.documents:
        raise ConfigError("the pretraining corpus is empty",
                          fix="enable corpus.procedures or corpus.chats")
    tokenizer = train_tokenizer(
        [t for d in corpus.documents for t in d.contents()],
        vocab_size=config.model.vocab_size,
        model_max_length=config.model.max_position_embeddings,
    )
    encoded = encode_documents(corpus, tokenizer)
    need = check_context(corpus, encoded, config)
    blocks = pack(encoded, config.train.seq_len, tokenizer.convert_tokens_to_ids(ENDOFTEXT),
                  seed=config.train.seed)
    check_no_heldout(corpus, data_manifest)  # belt and braces, right before training
    out.mkdir(parents=True, exist_ok=True)
    manifest = _manifest(config, data_dir, key, corpus, encoded, len(blocks), need)
    _write(out, manifest)
    model = build_model(config.model.spec(config.train.seed), tokenizer,
                        initializer_range=config.model.initializer_range)
    from proclab.models.pretrain_trainer import train_blocks

    stats = train_blocks(model, tokenizer, blocks, config, out / CHECKPOINTS, progress)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    shutil.rmtree(out / CHECKPOINTS, ignore_errors=True)
    manifest.update(stats, done=True, wall_s=round(time.perf_counter() - started, 2))
    _write(out, manifest)
    return manifest


def encode_documents(corpus: Corpus, tokenizer: Any) -> list[list[int]]:
    """Token ids of each document: procedure text as is, chats through the chat template."""
    out = []
    limit, tokenizer.model_max_length = tokenizer.model_max_length, 10**9  # lengths checked later
    try:
        for doc in corpus.documents:
            text = doc.text if doc.kind == "procedure" else tokenizer.apply_chat_template(
                doc.chat(), tokenize=False)
            out.append(tokenizer(text, add_special_tokens=False)["input_ids"])
    finally:
        tokenizer.model_max_length = limit
    return out


def check_context(corpus: Corpus, encoded: list[list[int]], config: PretrainConfig) -> int:
    """The model must see a whole training example (prompt + trace) in one context; returns
    the longest one's length (0 without chat documents: procedure text is just cut)."""
    lengths = [len(ids) for d, ids in zip(corpus.documents, encoded, strict=True)
               if d.kind == "chat"]
    need = max(lengths, default=0)
    model_ctx = config.model.max_position_embeddings
    if model_ctx < need:
        raise ConfigError(
            f"the longest training example is {need} tokens; set "
            f"model.max_position_embeddings >= {need} (it is {model_ctx})",
            fix="raise model.max_position_embeddings (and train.seq_len), or use a data "
                "config with shorter procedures and scenarios")
    if config.train.seq_len < need:
        raise ConfigError(
            f"the longest training example is {need} tokens; set train.seq_len >= {need} "
            f"(it is {config.train.seq_len})",
            fix="raise train.seq_len (at most model.max_position_embeddings)")
    return need


def pack(encoded: list[list[int]], seq_len: int, separator: int, *, seed: int) -> list[list[int]]:
    """Documents in a seeded order, each followed by `separator`, cut into `seq_len` blocks;
    the last partial block is padded with -1 (masked out of the loss)."""
    order = list(range(len(encoded)))
    random.Random(seed).shuffle(order)
    stream: list[int] = []
    for i in order:
        stream += encoded[i] + [separator]
    blocks = [stream[i:i + seq_len] for i in range(0, len(stream), seq_len)]
    if blocks and len(blocks[-1]) < seq_len:
        blocks[-1] = blocks[-1] + [-1] * (seq_len - len(blocks[-1]))
    return blocks


def _manifest(config: PretrainConfig, data_dir: str | Path, key: str, corpus: Corpus,
              encoded: list[list[int]], blocks: int, need: int) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "key": key,
        "done": False,
        "config": config.model_dump(mode="json"),
        "config_sha256": config.sha256(),
        "data": {"path": str(Path(data_dir).resolve()), "sha256": corpus.data_sha256},
        "corpus": {
            "sha256": corpus.sha256(),
            "documents": len(corpus.documents),
            "by_kind": corpus.counts(),
            "records": corpus.records,
            "tokens": sum(len(ids) + 1 for ids in encoded),
            "longest_example_tokens": need,
            "longest_document_tokens": max(len(ids) for ids in encoded),
            "blocks": blocks,
            "styles": corpus.styles,
            "procedure_ids": corpus.procedure_ids,
            "heldout_procedures_excluded": corpus.heldout_procedures,
            "heldout_styles_excluded": corpus.heldout_styles,
        },
        "versions": versions(),
    }


def _write(out: Path, manifest: dict[str, Any]) -> None:
    path = out / MANIFEST_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)
