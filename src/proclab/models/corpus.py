"""The pretraining corpus: text proclab generates from the training side of a built dataset.

Two kinds of document, both from training material only:
- `procedure`: each training procedure (the dataset manifest's `train_procedures`) rendered in
  every house style the manifest does not hold out;
- `chat`: each record of the configured training splits as messages, the reference user prompt
  then the offline oracle's scaffolded `[SIG=...]` trace as the assistant turn; these are the
  rows `proclab distill` writes to `sft.jsonl`, so pretraining sees the form SFT will see.

Same config + same dataset + same proclab -> the same documents in the same order (`sha256`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proclab.errors import ConfigError, DataError
from proclab.models.pretrain_config import CorpusSection

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Document:
    """One pretraining document: plain `text` (procedure) or chat `messages`."""

    kind: str
    procedure_id: str
    text: str = ""
    messages: tuple[tuple[str, str], ...] = ()

    def contents(self) -> list[str]:
        """The text pieces without chat markup (what the tokenizer is trained on)."""
        return [self.text] if self.kind == "procedure" else [c for _, c in self.messages]

    def chat(self) -> list[dict[str, str]]:
        return [{"role": r, "content": c} for r, c in self.messages]


@dataclass
class Corpus:
    documents: list[Document]
    procedure_ids: list[str]
    heldout_procedures: list[str]
    heldout_styles: list[str]
    styles: list[str]
    records: int
    data_sha256: dict[str, str] = field(default_factory=dict)

    def sha256(self) -> str:
        h = hashlib.sha256()
        for doc in self.documents:
            h.update(json.dumps([doc.kind, doc.procedure_id, doc.text, doc.messages]).encode())
        return h.hexdigest()

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for doc in self.documents:
            out[doc.kind] = out.get(doc.kind, 0) + 1
        return out


def read_manifest(data_dir: str | Path) -> dict[str, Any]:
    path = Path(data_dir) / MANIFEST
    if not path.is_file():
        raise DataError("no dataset manifest", where=str(path),
                        fix="pass a directory written by `proclab dataset build`")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    for key in ("splits", "heldout_procedures", "train_procedures"):
        if key not in manifest:
            raise DataError(f"dataset manifest lacks {key!r}", where=str(path),
                            fix="rebuild the dataset with `proclab dataset build`")
    return manifest


def check_splits(splits: list[str], manifest: dict[str, Any], where: str) -> None:
    """Refuse splits the manifest marks held out (or does not know)."""
    known = manifest["splits"]
    training = sorted(s for s, info in known.items() if not info.get("heldout"))
    for split in splits:
        if split not in known:
            raise ConfigError(f"corpus.splits: the dataset has no split {split!r}", where=where,
                              fix=f"use the training split(s): {', '.join(training)}")
        if known[split].get("heldout"):
            raise ConfigError(
                f"corpus.splits: {split!r} is a held-out split; the pretraining corpus may "
                "use training material only", where=where,
                fix=f"use the training split(s): {', '.join(training)}")


def data_sha256(data_dir: str | Path, splits: list[str]) -> dict[str, str]:
    """sha256 of the manifest and of each split file the corpus reads."""
    root = Path(data_dir)
    names = [MANIFEST] + [f"{s}.jsonl" for s in splits]
    out = {}
    for name in names:
        path = root / name
        if not path.is_file():
            raise DataError("file not found", where=str(path), fix="run `proclab dataset build`")
        out[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def build_corpus(section: CorpusSection, data_dir: str | Path) -> Corpus:
    """The documents for `section` from the dataset at `data_dir` (held-out splits refused)."""
    from proclab.procedures.corpus import get_procedure
    from proclab.procedures.styles import STYLES, render

    manifest = read_manifest(data_dir)
    check_splits(section.splits, manifest, where=f"{data_dir}/{MANIFEST}")
    heldout = sorted(manifest["heldout_procedures"])
    heldout_styles = sorted(manifest.get("heldout_styles", []))
    styles = [s for s in sorted(STYLES) if s not in heldout_styles]
    train_ids = sorted(set(manifest["train_procedures"]) - set(heldout))
    docs: list[Document] = []
    if section.procedures:
        for pid in train_ids:
            proc = get_procedure(pid)
            docs += [Document("procedure", pid, text=render(proc, s)) for s in styles]
    records = 0
    if section.chats:
        for split in section.splits:
            chats, n = _chat_documents(section, data_dir, split)
            docs += chats
            records += n
    used = sorted({d.procedure_id for d in docs})
    return Corpus(docs, used, heldout, heldout_styles, styles, records,
                  data_sha256(data_dir, section.splits))


def _chat_documents(section: CorpusSection, data_dir: str | Path,
                    split: str) -> tuple[list[Document], int]:
    from proclab.prompts import build_messages
    from proclab.teacher.distill import DistillConfig, distill

    config = DistillConfig(data=Path(data_dir), out=Path(data_dir), split=split,
                           teacher="oracle", samples=section.samples, seed=section.oracle_seed,
                           limit=section.max_records)
    result = distill(config)
    by_id = {r.id: r for r in result.records}
    docs: list[Document] = []
    for order in section.orders():
        for row in result.kept:
            record = by_id[row["record_id"]]
            user = build_messages(record.model_dump(), order=order)[0]
            assistant = row["messages"][-1]
            docs.append(Document(
                "chat", record.procedure_id,
                messages=((user["role"], user["content"]), ("assistant", assistant["content"])),
            ))
    return docs, len(result.records)


def check_no_heldout(corpus: Corpus, manifest: dict[str, Any]) -> None:
    """Belt and braces, right before training: no document may come from a held-out procedure
    (by id) or show a held-out procedure's title."""
    from proclab.procedures.corpus import get_procedure

    heldout = set(manifest["heldout_procedures"])
    leaked = sorted({d.procedure_id for d in corpus.documents if d.procedure_id in heldout})
    if leaked:
        raise ConfigError(
            f"the pretraining corpus would include held-out procedures: {', '.join(leaked)}",
            fix="pretrain on training splits only (corpus.splits), or rebuild the dataset")
    titles = {pid: get_procedure(pid).title for pid in heldout}
    for doc in corpus.documents:
        text = "\n".join(doc.contents())
        hits = [pid for pid, title in titles.items() if title and title in text]
        if hits:
            raise ConfigError(
                f"a {doc.kind} document of {doc.procedure_id} shows the title of held-out "
                f"procedure(s) {', '.join(sorted(hits))}",
                fix="pretrain on training splits only, or rebuild the dataset")
