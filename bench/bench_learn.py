"""The CPU-scale reproduction, measured: `proclab repro mini` end to end (or a finished run
folder), its figures against the goals of docs/benchmarks.md, and the training throughput of
the small base against baselines measured in the same run:

- pretraining: proclab's packed blocks at mini.yaml's batch (`proclab models pretrain`) vs a
  transformers `Trainer` left at its defaults (batch 8) on one document per example, padded to
  the batch's longest;
- full-parameter SFT: proclab's SFT recipe (`configs/train/mini-cpu-sft.yaml` choices) vs TRL
  `SFTTrainer` at its defaults (assistant-only loss, the same model, rows, steps and batch).

The metric is useful (non-padding) tokens per second; process CPU seconds beside wall time
because the bench machine is shared. Writes bench/RESULTS-learn.md (or --report).

    .venv/bin/python bench/bench_learn.py [--out runs/mini] [--config mini] [--skip-run]
        [--steps 6] [--report FILE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

STUDENTS = {"sft": "scaffolded SFT (engaged)", "answer": "answer-only SFT", "grpo": "GRPO"}
BASELINES = ("oracle", "majority", "surface")
SPLITS = ("heldout_procedures", "heldout_style", "heldout_adversarial", "seen_procedures")
ACCURACY_GOAL, PARSE_GOAL, SPEARMAN_GOAL = 0.80, 0.98, 0.8


def _results(run: Path) -> dict[str, Any] | None:
    path = run / "results.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _ci(m: dict[str, Any] | None) -> str:
    if not m or m.get("value") is None:
        return "—"
    return f"{m['value']:.3f} [{m['ci_low']:.3f}, {m['ci_high']:.3f}]"


def accuracy_table(out: Path) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """Rows of accuracy [CI] per model and split, plus the parsed results by `model-split`."""
    found: dict[str, dict[str, Any]] = {}
    lines = ["| model | " + " | ".join(SPLITS) + " | parse rate (heldout_procedures) | n |",
             "|---|" + "---|" * len(SPLITS) + "---:|---:|"]
    for model in (*STUDENTS, *BASELINES):
        cells, parse, n = [], "—", "—"
        for split in SPLITS:
            res = _results(out / "eval" / f"{model}-{split}")
            if res is not None:
                found[f"{model}-{split}"] = res
            cells.append(_ci(res["metrics"]["accuracy"]) if res else "—")
            if res and split == "heldout_procedures":
                parse, n = f"{res['metrics']['parse_rate']['value']:.3f}", str(res["n"])
        lines.append(f"| {STUDENTS.get(model, model)} | " + " | ".join(cells) + f" | {parse} | {n} |")
    return lines, found


def contrast_table(found: dict[str, dict[str, Any]]) -> list[str]:
    lines = ["| model | label-flipping pairs: accuracy | pair consistency | accuracy over the six "
             "prompt orders (min-max) | spread | all-orders agreement |",
             "|---|---|---|---|---:|---:|"]
    for model in (*STUDENTS, "surface", "oracle"):
        res = found.get(f"{model}-heldout_procedures")
        if res is None:
            continue
        flip = (res.get("pairs") or {}).get("flip") or {}
        orders = res.get("orders") or {}
        accs = [v["value"] for v in (orders.get("accuracy") or {}).values() if v]
        spread = f"{max(accs) - min(accs):.3f}" if accs else "—"
        span = f"{min(accs):.3f}-{max(accs):.3f}" if accs else "—"
        agree = orders.get("agreement")
        agree = f"{agree:.3f}" if isinstance(agree, int | float) else "—"
        lines.append(f"| {STUDENTS.get(model, model)} | {_ci(flip.get('accuracy'))} "
                     f"(pairs {flip.get('pairs', 0)}) | {_ci(flip.get('consistency'))} | {span} "
                     f"| {spread} | {agree} |")
    return lines


def mcnemar_table(out: Path) -> list[str]:
    from proclab.evaluate.compare import compare_runs

    lines = ["| split | A | B | shared samples | acc A | acc B | A only right | B only right "
             "| McNemar p |", "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    pairs = [("sft", "answer"), ("sft", "grpo"), ("answer", "grpo")]
    for split in SPLITS:
        for a, b in pairs:
            ra, rb = out / "eval" / f"{a}-{split}", out / "eval" / f"{b}-{split}"
            if not ((ra / "samples.jsonl").is_file() and (rb / "samples.jsonl").is_file()):
                continue
            c = compare_runs(ra, rb)
            lines.append(f"| {split} | {a} | {b} | {c.shared} | {c.accuracy_a:.3f} | "
                         f"{c.accuracy_b:.3f} | {c.a_only_correct} | {c.b_only_correct} | "
                         f"{c.p_value:.3g} |")
    return lines


def probe_lines(out: Path) -> tuple[list[str], dict[str, Any]]:
    lines = ["| student | condition | pairs kept | heads with δ CI excluding 0 | top heads (δ) | "
             "AtP vs exact: Spearman (all) | Spearman (AtP top-k) | top-k overlap |",
             "|---|---|---:|---:|---|---:|---:|---:|"]
    best: dict[str, Any] = {}
    for student in ("sft", "answer"):
        path = out / "interp" / student / "scores.json"
        if not path.is_file():
            continue
        doc = json.loads(path.read_text())
        for name, cond in doc["conditions"].items():
            heads = cond["heads"]
            sig = [h for h, v in heads.items() if v["delta_ci"][0] is not None
                   and (v["delta_ci"][0] > 0 or v["delta_ci"][1] < 0)]
            top = ", ".join(f"{h} ({heads[h]['delta']:+.3f})" for h in cond["top"][:3])
            ag = cond["agreement"]
            fmt = lambda v: "—" if v is None else f"{v:.3f}"  # noqa: E731
            lines.append(f"| {student} | {name} | {cond['pairs']['kept']} | {len(sig)} | {top} | "
                         f"{fmt(ag['spearman'])} | {fmt(ag['spearman_top_k'])} | "
                         f"{fmt(ag['top_k_overlap'])} (k={ag['k']}) |")
            best.setdefault(student, []).append((len(sig), ag["spearman_top_k"]))
    return lines, best


def goals(found: dict[str, dict[str, Any]], probes: dict[str, Any]) -> list[str]:
    sft = found.get("sft-heldout_procedures")
    surface = found.get("surface-heldout_procedures")
    out = []
    if sft:
        acc = sft["metrics"]["accuracy"]
        parse = sft["metrics"]["parse_rate"]["value"]
        out.append(f"- scaffolded SFT accuracy on heldout_procedures ≥ {ACCURACY_GOAL}: "
                   f"{acc['value']:.3f} — {'met' if acc['value'] >= ACCURACY_GOAL else 'NOT met'}")
        if surface:
            s = surface["metrics"]["accuracy"]
            above = acc["ci_low"] > s["ci_high"]
            out.append(f"- its clustered 95 % CI [{acc['ci_low']:.3f}, {acc['ci_high']:.3f}] "
                       f"entirely above the surface baseline's [{s['ci_low']:.3f}, "
                       f"{s['ci_high']:.3f}]: {'met' if above else 'NOT met'}")
        out.append(f"- parse rate ≥ {PARSE_GOAL}: {parse:.3f} — "
                   f"{'met' if parse >= PARSE_GOAL else 'NOT met'}")
    for student, rows in probes.items():
        sig = max(r[0] for r in rows)
        rho = max((r[1] for r in rows if r[1] is not None), default=None)
        out.append(f"- {student} student: a head whose δ CI excludes 0: "
                   f"{'met' if sig else 'NOT met'} ({sig} heads); AtP top-k vs exact Spearman ≥ "
                   f"{SPEARMAN_GOAL}: "
                   + ("—" if rho is None else f"{rho:.3f} — "
                      + ("met" if rho >= SPEARMAN_GOAL else "NOT met")))
    return out


def stage_table(out: Path) -> list[str]:
    path = out / "repro.json"
    if not path.is_file():
        return ["(no repro.json)"]
    doc = json.loads(path.read_text())
    lines = ["| stage | wall s | CPU s |", "|---|---:|---:|"]
    lines += [f"| {s['name']} | {s['wall_s']:.1f} | {s['cpu_s']:.1f} |" for s in doc["stages"]]
    budget = doc.get("budget_minutes")
    verdict = "" if budget is None else (f" — budget {budget:g} min: "
                                         + ("met" if doc["within_budget"] else "NOT met"))
    lines.append(f"| **total** | **{doc['total_wall_s']:.0f}** ({doc['total_wall_s'] / 60:.1f} "
                 f"min) | {doc['total_cpu_s']:.0f} |")
    lines.append("")
    lines.append(f"Total {doc['total_wall_s'] / 60:.1f} min wall{verdict}.")
    return lines


# -- throughput ------------------------------------------------------------------------------

def _cpu() -> float:
    t = os.times()
    return t.user + t.system


def pretrain_throughput(out: Path, steps: int) -> list[str]:
    """Packed blocks (proclab) vs one padded document per example (Trainer defaults)."""
    from transformers import (
        AutoTokenizer,
        DataCollatorForLanguageModeling,
    )

    from proclab.models.corpus import build_corpus
    from proclab.models.pretrain import encode_documents, pack
    from proclab.models.pretrain_config import load_pretrain_config
    from proclab.models.tiny import ENDOFTEXT, build_model

    config = load_pretrain_config(ROOT / "configs" / "models" / "mini.yaml")
    tok = AutoTokenizer.from_pretrained(out / "base")
    corpus = build_corpus(config.corpus, out / "data")
    encoded = encode_documents(corpus, tok)
    seq, batch = config.train.seq_len, config.train.batch_size
    rows: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        # proclab: the pretrain loop itself (Trainer over packed, full blocks).
        from proclab.models.pretrain_trainer import PackedBlocks

        blocks = pack(encoded, seq, tok.convert_tokens_to_ids(ENDOFTEXT), seed=0)
        model = build_model(config.model.spec(0), tok, initializer_range=0.02)
        data = PackedBlocks(blocks, tok.convert_tokens_to_ids(ENDOFTEXT))
        rows["proclab: packed blocks"] = _timed_trainer(model, data, None, tmp, steps, batch,
                                                         config.train.learning_rate)
        # baseline: one document per example, the LM collator padding to the batch's longest.
        model = build_model(config.model.spec(0), tok, initializer_range=0.02)
        docs = [{"input_ids": ids} for ids in encoded]
        collator = DataCollatorForLanguageModeling(tok, mlm=False)
        rows["baseline: Trainer defaults, padded documents"] = _timed_trainer(
            model, docs, collator, tmp, steps, 8, config.train.learning_rate)
    base = rows["baseline: Trainer defaults, padded documents"]["tok_s"]
    lines = ["| pretraining path | steps x batch | useful tokens | wall s | CPU s | useful "
             "tokens/s | ratio |", "|---|---:|---:|---:|---:|---:|---:|"]
    for name, r in rows.items():
        size = batch if name.startswith("proclab") else 8
        lines.append(f"| {name} | {steps} x {size} | {r['tokens']:.0f} | {r['wall']:.1f} | "
                     f"{r['cpu']:.1f} | {r['tok_s']:.0f} | {r['tok_s'] / base:.2f} |")
    return lines


class _Counting:
    def __init__(self, inner: Any):
        self.inner, self.tokens = inner, 0

    def __call__(self, examples: list[dict[str, Any]]) -> Any:
        batch = self.inner(examples)
        self.tokens += int((batch["labels"] != -100).sum())
        return batch


def _timed_trainer(model: Any, data: Any, collator: Any, tmp: str, steps: int, batch: int,
                   lr: float) -> dict[str, float]:
    from transformers import Trainer, TrainingArguments, default_data_collator

    counter = _Counting(collator or default_data_collator)
    args = TrainingArguments(output_dir=tmp, per_device_train_batch_size=batch, max_steps=steps,
                             learning_rate=lr, report_to="none", save_strategy="no",
                             disable_tqdm=True, use_cpu=True, seed=0, logging_steps=10_000)
    trainer = Trainer(model=model, args=args, train_dataset=data, data_collator=counter)
    t0, c0 = time.perf_counter(), _cpu()
    trainer.train()
    wall, cpu = time.perf_counter() - t0, _cpu() - c0
    return {"tokens": counter.tokens, "wall": wall, "cpu": cpu, "tok_s": counter.tokens / wall}


def sft_throughput(out: Path, steps: int, batch: int) -> list[str]:
    """Full-parameter SFT on the distilled compact traces: proclab's recipe vs TRL defaults."""
    import bench_train as bt

    from proclab.train.config import parse_config
    from proclab.train.sft import SFTRecipe

    model = str(out / "base")
    rows_file = out / "distill" / "sft.jsonl"
    found: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        from transformers import AutoTokenizer

        fitting, _ = bt.fitting_rows(rows_file, AutoTokenizer.from_pretrained(model),
                                     steps * batch, Path(tmp) / "rows.jsonl")
        config = parse_config({
            "method": "sft", "model": model, "output_dir": f"{tmp}/p", "seed": 0,
            "finetune": "full", "data": {"sft_file": str(fitting), "max_length": 2560},
            "optim": {"max_steps": steps, "batch_size": batch},
            "sft": {"signal_beta": 0.0, "group_by_length": True},
            "logging": {"report_to": ["none"], "save_steps": 10_000, "logging_steps": 10_000},
        })
        recipe = SFTRecipe(config)
        recipe.setup()
        found["proclab SFT recipe (full FT)"] = bt.measure(recipe.trainer)
        found["TRL SFTTrainer defaults (full FT)"] = bt.measure(
            _trl_full(model, fitting, Path(tmp) / "t", steps, batch))
    base = found["TRL SFTTrainer defaults (full FT)"]
    lines = ["| SFT path | useful tokens | wall s | CPU s | useful tokens/s | ratio |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, r in found.items():
        lines.append(f"| {name} | {r['tokens']:.0f} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | "
                     f"{r['tok_s']:.0f} | {r['tok_s'] / base['tok_s']:.2f} |")
    return lines


def _trl_full(model_path: str, rows: Path, out: Path, steps: int, batch: int) -> Any:
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    data = Dataset.from_list([{"messages": json.loads(line)["messages"]}
                              for line in rows.read_text().splitlines()])
    args = SFTConfig(str(out), max_steps=steps, per_device_train_batch_size=batch, seed=0,
                     report_to="none", assistant_only_loss=True, max_length=2560,
                     save_strategy="no", disable_tqdm=True, use_cpu=True)
    return SFTTrainer(model=AutoModelForCausalLM.from_pretrained(model_path), args=args,
                      train_dataset=data, processing_class=AutoTokenizer.from_pretrained(
                          model_path))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/mini", help="the repro run folder")
    parser.add_argument("--config", default="mini", help="configs/repro/<name>.yaml")
    parser.add_argument("--skip-run", action="store_true", help="summarise a finished run only")
    parser.add_argument("--steps", type=int, default=6, help="throughput steps per path")
    parser.add_argument("--batch", type=int, default=4, help="SFT throughput batch")
    parser.add_argument("--no-throughput", action="store_true")
    parser.add_argument("--report", default=str(ROOT / "bench" / "RESULTS-learn.md"))
    args = parser.parse_args()
    out = Path(args.out) if Path(args.out).is_absolute() else ROOT / args.out
    if not args.skip_run:
        subprocess.run([sys.executable, "-m", "proclab", "repro", args.config, "--out",
                        str(out)], check=True, cwd=ROOT)
    acc, found = accuracy_table(out)
    probes, best = probe_lines(out)
    text = [f"# Learning at CPU scale: `proclab repro {args.config}`", "",
            f"Measured {dt.date.today().isoformat()} on {platform.machine()} "
            f"({os.cpu_count()} cores): `python bench/bench_learn.py` (runs `proclab repro "
            f"{args.config} --out runs/mini`; this record's run folder was named `{out.name}`).",
            "",
            "## Goals", "", *goals(found, best), "", "## Stages", "", *stage_table(out), "",
            "## Accuracy by held-out split (clustered 95 % CI)", "", *acc, "",
            "## The contrast on heldout_procedures", "", *contrast_table(found), "",
            "## McNemar between students (same samples)", "", *mcnemar_table(out), "",
            "## Head probes", "", *probes, ""]
    if not args.no_throughput:
        text += ["## Throughput (same run, same machine)", "",
                 *pretrain_throughput(out, args.steps), "", *sft_throughput(out, args.steps,
                                                                            args.batch), ""]
    Path(args.report).write_text("\n".join(text), encoding="utf-8")
    print("\n".join(text))


if __name__ == "__main__":
    main()
