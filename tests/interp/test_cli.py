"""`proclab interp heads|compare` through the real entry point: files, keys and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from proclab.cli import main


def _exit_code(argv: list[str]) -> int:
    try:
        main(argv)
    except SystemExit as stop:
        return int(stop.code or 0)
    return 0


def _heads(model: Path, pairs: Path, out: Path, *extra: str) -> list[str]:
    return ["interp", "heads", "--model", str(model), "--pairs", str(pairs), "--out", str(out),
            "--resamples", "100", "--permutations", "100", *extra]  # fmt: skip


def test_heads_writes_scores_heatmaps_and_summary_then_compare(
    tiny_model_dir, pairs_path, tmp_path, capsys
) -> None:
    a = tmp_path / "a"
    argv = _heads(tiny_model_dir, pairs_path, a, "--no-filter", "--span", "final,scenario",
                  "--aligned-only", "--top-k", "3")  # fmt: skip
    assert _exit_code(argv) == 0
    doc = json.loads((a / "scores.json").read_text())
    assert doc["schema_version"] == 1 and doc["config"]["model"] == str(tiny_model_dir)
    assert set(doc["conditions"]) == {"decision@final", "decision@scenario", "mapping@final"}
    final = doc["conditions"]["decision@final"]
    config = json.loads((tiny_model_dir / "config.json").read_text())
    layers, heads = config["num_hidden_layers"], config["num_attention_heads"]
    assert list(final["heads"]) == [f"L{i}.H{h}" for i in range(layers) for h in range(heads)]
    assert final["pairs"] == {"tried": 3, "kept": 3, "dropped_filter": 0, "dropped_unaligned": 0}
    assert doc["conditions"]["decision@scenario"]["pairs"]["dropped_unaligned"] == 1
    assert len(final["per_pair"]["delta"]) == 3 and len(final["per_pair"]["delta"][0]) == 2
    assert len(final["top"]) == 3
    for name in ("decision-final", "decision-scenario", "mapping-final"):
        for score in ("delta", "atp", "recovery"):
            assert (a / f"heatmap-{name}-{score}.png").read_bytes()[:4] == b"\x89PNG"
    summary = (a / "summary.md").read_text()
    top = final["top"][0]
    h = final["heads"][top]
    assert f"| 1 | {top}" in summary and f"{h['delta']:+.3f}" in summary
    assert "symbol_abstraction" in summary and "Attention at the decision position" in summary
    assert top in capsys.readouterr().out

    b = tmp_path / "b"
    argv = _heads(tiny_model_dir, pairs_path, b, "--no-filter", "--top-k", "3", "--confirm", "3")
    assert _exit_code(argv) == 0
    confirmed = json.loads((b / "scores.json").read_text())["conditions"]["decision@final"]
    exact = [name for name, h in confirmed["heads"].items() if h["delta"] is not None]
    # only the screen's top 3 are exact-patched, and they are the screen's top 3
    assert sorted(exact) == sorted(confirmed["top_atp"])
    assert _exit_code(["interp", "compare", str(a), str(b), "--out", str(tmp_path / "c")]) == 0
    comparison = json.loads((tmp_path / "c" / "compare.json").read_text())
    assert set(comparison["conditions"]) == {"decision@final", "mapping@final"}
    cond = comparison["conditions"]["decision@final"]
    assert cond["paired"] and cond["shared_pairs"] == 3
    # the same model on the same pairs: every head patched in both differs by zero
    diffs = [h["delta"] for h in cond["heads"].values()]
    assert sum(d is None for d in diffs) == len(diffs) - 3  # only the 3 confirmed in b
    assert all(abs(d) < 1e-5 for d in diffs if d is not None)
    assert (tmp_path / "c" / "heatmap-decision-final-diff.png").is_file()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--margin", "1000"], "answers none of the 3 pairs correctly on both sides"),
        (["--span", "scenario", "--no-filter"], "cannot be patched position by position"),
        (["--span", "middle", "--max-pairs", "0"], "invalid interp settings (2)"),
        (["--kinds", "unordered_swap"], "use some of order_swap, actor_swap"),
    ],
)
def test_bad_input_exits_2_with_a_message_and_no_heatmap(
    tiny_model_dir, pairs_path, tmp_path, capsys, extra, message
) -> None:
    out = tmp_path / "run"
    assert _exit_code(_heads(tiny_model_dir, pairs_path, out, *extra)) == 2
    err = capsys.readouterr().err
    assert message in " ".join(err.split())
    assert not list(out.glob("*.png")) and not (out / "scores.json").exists()


def test_unsupported_architecture_exits_2(pairs_path, tmp_path, capsys) -> None:
    from transformers import GPT2Config, GPT2LMHeadModel

    GPT2LMHeadModel(GPT2Config(n_layer=1, n_head=2, n_embd=8, vocab_size=16)).save_pretrained(
        tmp_path / "gpt2"
    )
    assert _exit_code(_heads(tmp_path / "gpt2", pairs_path, tmp_path / "run")) == 2
    assert "not supported" in capsys.readouterr().err


def test_compare_needs_two_study_folders(tmp_path, capsys) -> None:
    assert _exit_code(["interp", "compare", str(tmp_path), str(tmp_path)]) == 2
    assert "no scores.json here" in capsys.readouterr().err
