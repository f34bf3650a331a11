"""`proclab models pretrain`: training-only corpus, refusals, a few-step run, reload, reuse."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from proclab.cli import main
from proclab.errors import ConfigError, ErrorList
from proclab.models.corpus import build_corpus, check_no_heldout, read_manifest
from proclab.models.pretrain import MANIFEST_FILE, run_pretrain
from proclab.models.pretrain_config import (
    CorpusSection,
    load_pretrain_config,
    parse_pretrain_config,
)
from proclab.models.tiny import CHAT_TEMPLATE

ROOT = Path(__file__).resolve().parents[2]
# Minute-sized: the oracle traces of the tiny dataset are ~7.4k tokens with a 512-token vocab.
SMALL = {
    "model": {"vocab_size": 512, "num_layers": 2, "hidden_size": 32, "num_heads": 4,
              "num_kv_heads": 2, "intermediate_size": 64, "max_position_embeddings": 8192},
    "corpus": {"max_records": 2},
    "train": {"seq_len": 8192, "batch_size": 1, "max_steps": 5, "save_steps": 2,
              "logging_steps": 1, "warmup_steps": 0, "learning_rate": 3e-3, "threads": 1},
}


def write_config(path: Path, raw: dict) -> Path:
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def pretrained(tiny_data: Path, tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("pretrained")
    cfg = write_config(folder / "small.yaml", SMALL)
    out = folder / "base"
    main(["models", "pretrain", "--config", str(cfg), "--data", str(tiny_data),
          "--out", str(out), "--no-progress"])
    return cfg, out


def test_corpus_is_training_material_only(tiny_data: Path) -> None:
    manifest = read_manifest(tiny_data)
    heldout = set(manifest["heldout_procedures"])
    corpus = build_corpus(CorpusSection(), tiny_data)
    kinds = corpus.counts()
    assert kinds["procedure"] > 0 and kinds["chat"] == manifest["splits"]["train"]["records"]
    assert heldout and not heldout & set(corpus.procedure_ids)
    assert not heldout & {d.procedure_id for d in corpus.documents}
    assert set(corpus.procedure_ids) <= set(manifest["train_procedures"])
    assert "step_cards" in manifest["heldout_styles"] and "step_cards" not in corpus.styles

    from proclab.procedures.corpus import get_procedure

    text = "\n".join(t for d in corpus.documents for t in d.contents())
    for pid in heldout:
        assert get_procedure(pid).title not in text, pid
    # the same form SFT sees: the reference prompt, then the scaffolded oracle trace
    chat = next(d for d in corpus.documents if d.kind == "chat")
    assert chat.messages[0][1].startswith("Procedure:\n")
    assert chat.messages[1][1].startswith("[SIG=") and "Final answer:" in chat.messages[1][1]
    check_no_heldout(corpus, manifest)  # passes


def test_same_config_same_corpus_hash(tiny_data: Path) -> None:
    section = CorpusSection(max_records=5)
    assert build_corpus(section, tiny_data).sha256() == build_corpus(section, tiny_data).sha256()
    other = CorpusSection(max_records=5, oracle_seed=1)
    assert build_corpus(other, tiny_data).sha256() != build_corpus(section, tiny_data).sha256()


def test_leaked_heldout_document_is_refused(tiny_data: Path) -> None:
    manifest = read_manifest(tiny_data)
    corpus = build_corpus(CorpusSection(max_records=2, procedures=False), tiny_data)
    manifest = {**manifest, "heldout_procedures": [corpus.documents[0].procedure_id]}
    with pytest.raises(ConfigError, match="held-out procedures"):
        check_no_heldout(corpus, manifest)


def test_heldout_split_exits_2(tiny_data: Path, tmp_path: Path, capsys) -> None:
    raw = {**SMALL, "corpus": {"splits": ["train", "heldout_procedures"]}}
    cfg = write_config(tmp_path / "c.yaml", raw)
    with pytest.raises(SystemExit) as exc:
        main(["models", "pretrain", "--config", str(cfg), "--data", str(tiny_data),
              "--out", str(tmp_path / "o"), "--no-progress"])
    assert exc.value.code == 2
    assert "'heldout_procedures' is a held-out split" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_too_small_context_exits_2_naming_the_length(tiny_data: Path, tmp_path: Path,
                                                     capsys) -> None:
    cfg = write_config(tmp_path / "c.yaml", SMALL)
    with pytest.raises(SystemExit) as exc:
        main(["models", "pretrain", "--config", str(cfg), "--data", str(tiny_data),
              "--out", str(tmp_path / "o"), "--no-progress",
              "--set", "model.max_position_embeddings=256", "--set", "train.seq_len=256"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    needed = int(err.split("the longest training example is ")[1].split()[0])
    assert needed > 256 and f"model.max_position_embeddings >= {needed}" in err


def test_bad_fields_are_all_named(tmp_path: Path) -> None:
    raw = {"model": {"hidden_size": 100, "num_heads": 6, "layers": 2},
           "train": {"seq_len": 4096, "batch_size": 0}}
    with pytest.raises(ErrorList) as exc:
        parse_pretrain_config(raw)
    text = exc.value.render()
    assert "'model.layers'" in text and "train.batch_size" in text
    # model-size and context problems of an otherwise valid file, all at once
    with pytest.raises(ErrorList) as exc:
        parse_pretrain_config({"model": {"hidden_size": 100, "num_heads": 6},
                               "train": {"seq_len": 4096}})
    text = exc.value.render()
    assert "divisible by num_heads=6" in text and "exceeds model.max_position_embeddings" in text


def test_shipped_config_is_valid() -> None:
    config = load_pretrain_config(ROOT / "configs/models/mini.yaml")
    assert config.corpus.splits == ["train"]
    assert config.train.seq_len <= config.model.max_position_embeddings


def test_pretrained_base_loads_and_learned(pretrained: tuple[Path, Path]) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _, out = pretrained
    manifest = json.loads((out / MANIFEST_FILE).read_text())
    assert manifest["done"] and manifest["steps"] == 5
    losses = [e["loss"] for e in manifest["loss_history"]]
    assert losses[-1] < losses[0]
    assert manifest["corpus"]["heldout_procedures_excluded"]
    assert not set(manifest["corpus"]["heldout_procedures_excluded"]) & set(
        manifest["corpus"]["procedure_ids"])
    assert not (out / "checkpoints").exists()
    tok = AutoTokenizer.from_pretrained(out)
    model = AutoModelForCausalLM.from_pretrained(out)
    assert type(model).__name__ == "Qwen2ForCausalLM"
    assert tok.chat_template == CHAT_TEMPLATE and tok.eos_token == "<|im_end|>"
    assert model.config.max_position_embeddings == 8192 and len(tok) == 512
    assert sum(p.numel() for p in model.parameters()) == manifest["parameters"]


def test_rerun_of_finished_run_does_not_retrain(pretrained: tuple[Path, Path], tiny_data: Path,
                                                capsys) -> None:
    cfg, out = pretrained
    before = (out / "model.safetensors").stat().st_mtime_ns
    started = time.perf_counter()
    main(["models", "pretrain", "--config", str(cfg), "--data", str(tiny_data),
          "--out", str(out), "--no-progress"])
    assert time.perf_counter() - started < 10  # no corpus, no tokenizer, no training
    assert "already pretrained" in capsys.readouterr().out
    assert (out / "model.safetensors").stat().st_mtime_ns == before


def test_other_config_in_existing_out_exits_2(pretrained: tuple[Path, Path],
                                              tiny_data: Path, capsys) -> None:
    cfg, out = pretrained
    with pytest.raises(SystemExit) as exc:
        main(["models", "pretrain", "--config", str(cfg), "--data", str(tiny_data),
              "--out", str(out), "--no-progress", "--set", "train.seed=1"])
    assert exc.value.code == 2
    assert "different config" in capsys.readouterr().err


def test_resumes_from_last_checkpoint(tiny_data: Path, tmp_path: Path, monkeypatch) -> None:
    import transformers

    class Killed(RuntimeError):
        pass

    class KillAtStep3(transformers.TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 3:
                raise Killed

    class Interrupted(transformers.Trainer):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.add_callback(KillAtStep3())

    config = parse_pretrain_config({**SMALL, "train": {**SMALL["train"], "max_steps": 4}})
    out = tmp_path / "base"
    with monkeypatch.context() as patch:
        patch.setattr(transformers, "Trainer", Interrupted)
        with pytest.raises(Killed):
            run_pretrain(config, tiny_data, out, progress=False)
    assert not json.loads((out / MANIFEST_FILE).read_text())["done"]
    assert (out / "checkpoints" / "checkpoint-2").is_dir()
    outcome = run_pretrain(config, tiny_data, out, progress=False)
    assert not outcome.reused
    assert outcome.manifest["resumed_from_step"] == 2 and outcome.manifest["steps"] == 4
    assert outcome.manifest["done"]


def test_without_out_builds_into_the_cache_and_reuses(tiny_data: Path, tmp_path: Path,
                                                      monkeypatch) -> None:
    from proclab.models.pretrain import pretrain

    monkeypatch.setenv("PROCLAB_CACHE", str(tmp_path / "cache"))
    raw = {"model": {**SMALL["model"], "max_position_embeddings": 256},
           "corpus": {"chats": False},  # procedure renderings only: no example length to fit
           "train": {**SMALL["train"], "seq_len": 256, "max_steps": 1}}
    config = parse_pretrain_config(raw)
    path = pretrain(config, tiny_data, progress=False)
    assert path.parent == tmp_path / "cache" and path.name.startswith("pretrain-")
    assert (path / "config.json").is_file() and not list(path.parent.glob(".pretrain-*"))
    again = run_pretrain(config, tiny_data, progress=False)
    assert again.reused and again.path == path
