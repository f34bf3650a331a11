"""How configs/models/mini.yaml was sized: short pretraining runs of the same corpus at a fixed
wall-time budget, compared by the loss on blocks left out of training (docs/training.md, "How
mini.yaml was sized"). Each variant changes the model width, the blocks per step or the
learning rate; all use AdamW (beta2 0.95, weight decay 0.1), warm-up then cosine decay over the
steps the budget is expected to hold, gradient clipping at 1.0, fp32 on CPU.

    .venv/bin/python bench/bench_pretrain_sweep.py --data runs/mini/data [--budget 90]
        [--only NAME ...] [--out FILE]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# name -> overrides of the run below (the first line of the table is the first recipe tried).
VARIANTS: dict[str, dict[str, Any]] = {
    "hidden 192, 4 blocks/step, lr 3e-3": {"batch": 4},
    "hidden 192, 4 blocks/step, attention mask": {"batch": 4, "mask": True},
    "hidden 192, 2 blocks/step, lr 6e-3": {"batch": 2, "lr": 6e-3},
    "hidden 192, 1 block/step, lr 2e-3": {"lr": 2e-3},
    "hidden 192, 1 block/step, lr 3e-3": {},
    "hidden 192, 1 block/step, lr 5e-3": {"lr": 5e-3},
    "hidden 192, 1 block/step, lr 1e-2": {"lr": 1e-2},
    "hidden 128, 1 block/step, lr 3e-3": {"hidden": 128, "heads": 4, "inter": 384},
}


def corpus_blocks(data: Path, seq: int) -> tuple[Any, list[list[int]]]:
    """The mini.yaml corpus of `data`, its tokenizer, and the packed blocks."""
    from proclab.models.corpus import build_corpus
    from proclab.models.pretrain import encode_documents, pack
    from proclab.models.pretrain_config import load_pretrain_config
    from proclab.models.tiny import ENDOFTEXT, train_tokenizer

    config = load_pretrain_config(ROOT / "configs" / "models" / "mini.yaml")
    corpus = build_corpus(config.corpus, data)
    tok = train_tokenizer([t for d in corpus.documents for t in d.contents()],
                          vocab_size=config.model.vocab_size,
                          model_max_length=config.model.max_position_embeddings)
    blocks = pack(encode_documents(corpus, tok), seq, tok.convert_tokens_to_ids(ENDOFTEXT), seed=0)
    return tok, blocks


def run(tok: Any, blocks: list[list[int]], *, budget: float, batch: int = 1, lr: float = 3e-3,
        mask: bool = False, hidden: int = 192, heads: int = 6, inter: int = 512) -> dict[str, Any]:
    import torch

    from proclab.models.pretrain_config import load_pretrain_config
    from proclab.models.tiny import ENDOFTEXT, build_model

    sep = tok.convert_tokens_to_ids(ENDOFTEXT)
    data = torch.tensor(blocks)
    held, train = data[:8], data[8:]
    spec = load_pretrain_config(ROOT / "configs" / "models" / "mini.yaml").model.spec(0)
    spec = dataclasses.replace(spec, num_layers=4, hidden_size=hidden, num_heads=heads,
                               intermediate_size=inter)
    torch.manual_seed(0)
    model = build_model(spec, tok, initializer_range=0.02).train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.1, betas=(0.9, 0.95))
    gen = torch.Generator().manual_seed(0)
    t0, step, expected = time.time(), 0, None
    while time.time() - t0 < budget:
        x = train[torch.randint(0, len(train), (batch,), generator=gen)]
        real = x >= 0
        if step >= 3:  # the budget's step count, re-estimated from the speed so far
            expected = int(step * budget / max(time.time() - t0, 1e-6))
        progress = min(1.0, step / max(expected or 10**6, 1))
        scale = min(1.0, (step + 1) / 10) * (0.1 + 0.45 * (1 + math.cos(math.pi * progress)))
        for group in opt.param_groups:
            group["lr"] = lr * scale
        out = model(input_ids=x.where(real, sep), labels=x.where(real, -100),
                    attention_mask=real.long() if mask else None)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        step += 1
    model.eval()
    with torch.no_grad():
        losses = [model(input_ids=held[i:i + 2].where(held[i:i + 2] >= 0, sep),
                        labels=held[i:i + 2].where(held[i:i + 2] >= 0, -100)).loss.item()
                  for i in range(0, 8, 2)]
    return {"steps": step, "params": sum(p.numel() for p in model.parameters()),
            "heldout_loss": round(sum(losses) / len(losses), 3)}


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a compact dataset folder (repro's data)")
    parser.add_argument("--budget", type=float, default=90.0, help="seconds per variant")
    parser.add_argument("--only", nargs="*", help="variant names to run (default: all)")
    parser.add_argument("--out", help="also write the Markdown table here")
    args = parser.parse_args()
    torch.set_num_threads(2)
    tok, blocks = corpus_blocks(Path(args.data), 2560)
    lines = [f"Budget {args.budget:g} s per variant, 2560-token blocks.", "",
             "| variant | parameters | steps | held-out loss |", "|---|---:|---:|---:|"]
    for name, kw in VARIANTS.items():
        if args.only and name not in args.only:
            continue
        got = run(tok, blocks, budget=args.budget, **kw)
        lines.append(f"| {name} | {got['params']:,} | {got['steps']} | {got['heldout_loss']} |")
        print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    print(json.dumps({"variants": len(lines) - 4}))


if __name__ == "__main__":
    main()
