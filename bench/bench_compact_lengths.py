"""Token lengths of a training example in the default and the compact view (docs/scenarios.md,
"The compact view"): procedure, scenario, oracle trace and the whole chat, median and max over
600 training examples of each build, in the tiny model's 2k BPE; and the compact view's whole
examples in a 4k BPE trained on its own training chats (what `proclab models pretrain` does).

    .venv/bin/python bench/bench_compact_lengths.py [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
N = 600


def build(config: str, out: Path) -> tuple[list[dict], list[dict]]:
    proclab = [sys.executable, "-m", "proclab"]
    subprocess.run([*proclab, "dataset", "build", "--config", config, "--out", str(out / "data"),
                    "--overwrite", "--no-progress"], check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL)
    subprocess.run([*proclab, "distill", "--teacher", "oracle", "--data", str(out / "data"),
                    "--split", "train", "--out", str(out / "distill"), "--no-progress"],
                   check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    records = [json.loads(x) for x in (out / "data" / "train.jsonl").read_text().splitlines()]
    rows = [json.loads(x) for x in (out / "distill" / "sft.jsonl").read_text().splitlines()]
    return records, rows


def lengths(tok, records: list[dict], rows: list[dict]) -> dict[str, list[int]]:
    def n(text: str) -> int:
        return len(tok(text, add_special_tokens=False).input_ids)

    chat = [tok.apply_chat_template(r["messages"], tokenize=False) for r in rows[:N]]
    return {"procedure": [n(r["procedure_text"]) for r in records[:N]],
            "scenario": [n(r["scenario_text"]) for r in records[:N]],
            "trace": [n(r["messages"][-1]["content"]) for r in rows[:N]],
            "whole example": [n(c) for c in chat]}


def main() -> None:
    from transformers import AutoTokenizer
    from transformers.utils import logging

    from proclab.models.tiny import tiny_model_path, train_tokenizer

    logging.set_verbosity_error()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", help="keep the builds here (default: a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work or tmp)
        tiny = AutoTokenizer.from_pretrained(tiny_model_path())
        views = {"default view (configs/data/tiny.yaml)": build("configs/data/tiny.yaml",
                                                                  work / "default"),
                 "compact view (configs/data/compact.yaml)": build("configs/data/compact.yaml",
                                                                   work / "compact")}
        print("| part | " + " | ".join(views) + " |\n|---|---|---|")
        measured = {name: lengths(tiny, *got) for name, got in views.items()}
        for part in ("procedure", "scenario", "trace", "whole example"):
            cells = [f"{int(statistics.median(m[part])):,} / {max(m[part]):,}"
                     for m in measured.values()]
            print(f"| {part} (median / max, 2k BPE) | " + " | ".join(cells) + " |")
        records, rows = views["compact view (configs/data/compact.yaml)"]
        own = train_tokenizer([m["content"] for r in rows[:3000] for m in r["messages"]],
                              vocab_size=4096, model_max_length=4096)
        whole = [len(own(own.apply_chat_template(r["messages"], tokenize=False),
                         add_special_tokens=False).input_ids) for r in rows[3000:3000 + N]]
        print(f"\ncompact view, whole example in a 4k BPE trained on 3,000 of its training chats: "
              f"median {int(statistics.median(whole)):,}, max {max(whole):,}")


if __name__ == "__main__":
    main()
