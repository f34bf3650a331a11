"""Hostile input to every reader: YAML alias bombs, recursive aliases, deep nesting and oversized
files, overlong JSON Lines lines, megabyte-long Markdown lines and deeply nested guards. Each
must fail fast with a ProclabError (exit 2 from the CLI) naming the file, never hang."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from proclab.cli import main
from proclab.configfile import read_yaml_mapping
from proclab.errors import ConfigError, DataError, ErrorList, GuardSyntaxError, ProclabError
from proclab.limits import LIMITS, jsonl_lines, limit
from proclab.yamlsafe import load_yaml


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """A "billion laughs" mapping: level k repeats level k-1 `width` times (9**9 ~ 387M nodes
    expanded, under 400 bytes written)."""
    lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    for k in range(1, levels):
        lines.append(f"l{k}: &l{k} [{', '.join([f'*l{k - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


def messages(err: ProclabError) -> str:
    return "\n".join(e.render() for e in err.errors) if isinstance(err, ErrorList) else err.render()


# -- the YAML loader itself -------------------------------------------------------------------


def test_alias_bomb_stops_at_the_node_limit_naming_the_line() -> None:
    with pytest.raises(ConfigError) as info:
        load_yaml(alias_bomb(), where="bomb.yaml")
    assert "expands to more than 1,000,000 nodes" in info.value.what
    assert info.value.where.startswith("bomb.yaml:")
    assert "PROCLAB_MAX_YAML_NODES" in info.value.fix


def test_aliases_within_the_limit_load_as_plain_yaml() -> None:
    text = "base: &b {retries: 3, tags: [a, b]}\nfirst: *b\nsecond: {<<: *b, retries: 5}\n"
    assert load_yaml(text, where="ok.yaml") == {
        "base": {"retries": 3, "tags": ["a", "b"]},
        "first": {"retries": 3, "tags": ["a", "b"]},
        "second": {"retries": 5, "tags": ["a", "b"]},
    }


def test_merge_key_bomb_is_counted_like_any_alias() -> None:
    lines = ["m0: &m0 {a: 1, b: 2}"]
    lines += [f"m{k}: &m{k} {{<<: [*m{k - 1}, *m{k - 1}, *m{k - 1}, *m{k - 1}]}}"
              for k in range(1, 16)]
    with pytest.raises(ConfigError, match="expands to more than"):
        load_yaml("\n".join(lines), where="merge.yaml")


def test_node_limit_counts_expanded_nodes_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    # [a, b, c] is 4 nodes; `x: &s [..]` + `y: *s` is 1 (map) + 2 keys + 4 + 4 = 11.
    text = "x: &s [a, b, c]\ny: *s\n"
    monkeypatch.setenv("PROCLAB_MAX_YAML_NODES", "11")
    assert load_yaml(text, where="t") == {"x": ["a", "b", "c"], "y": ["a", "b", "c"]}
    monkeypatch.setenv("PROCLAB_MAX_YAML_NODES", "10")
    with pytest.raises(ConfigError, match="more than 10 nodes"):
        load_yaml(text, where="t")


def test_recursive_alias_is_refused() -> None:
    with pytest.raises(DataError, match="recursive") as info:
        load_yaml("a: &a [1, *a]\n", where="r.yaml", error=DataError)
    assert info.value.where == "r.yaml:1"


def test_deep_nesting_is_an_error_not_a_recursion_error() -> None:
    deep = "a: " + "[" * 5000 + "]" * 5000 + "\n"
    with pytest.raises(ConfigError, match="nesting deeper than 100 levels"):
        load_yaml(deep, where="deep.yaml")
    assert load_yaml("a: " + "[" * 50 + "]" * 50, where="ok") is not None


def test_a_bad_limit_in_the_environment_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROCLAB_MAX_YAML_NODES", "lots")
    with pytest.raises(ConfigError, match="PROCLAB_MAX_YAML_NODES"):
        limit("yaml_nodes")
    monkeypatch.setenv("PROCLAB_MAX_YAML_NODES", "2_000_000")
    assert limit("yaml_nodes") == 2_000_000


def test_defaults_are_generous() -> None:
    assert LIMITS["document_bytes"].default >= 8 << 20
    assert LIMITS["jsonl_line_bytes"].default >= 8 << 20
    assert LIMITS["yaml_nodes"].default >= 500_000


# -- every YAML reader ------------------------------------------------------------------------


def test_procedure_file_bomb_fails_fast_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(alias_bomb(), encoding="utf-8")
    code, err = cli(capsys, "procedures", "validate", str(bomb))
    assert code == 2
    assert f"{bomb}:" in err and "expands to more than" in err


def test_procedure_file_over_the_size_limit_is_refused_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from proclab.procedures.loader import load_procedures

    big = tmp_path / "big.yaml"
    big.write_text("id: x\n" + "# padding\n" * 200, encoding="utf-8")
    monkeypatch.setenv("PROCLAB_MAX_DOCUMENT_BYTES", "1000")
    with pytest.raises(ErrorList) as info:
        load_procedures([big])
    assert "over the limit of 1,000 bytes" in messages(info.value)


def test_trace_file_bomb(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = tmp_path / "trace.yaml"
    trace.write_text(alias_bomb(), encoding="utf-8")
    code, err = cli(capsys, "procedures", "check", "lab-minor-chemical-spill",
                    "--trace", str(trace))
    assert code == 2 and "expands to more than" in err and str(trace) in err


def test_dataset_build_config_bomb(tmp_path: Path) -> None:
    from proclab.dataset.config import load_config

    path = tmp_path / "data.yaml"
    path.write_text(alias_bomb(), encoding="utf-8")
    with pytest.raises(ConfigError, match="expands to more than"):
        load_config(path)


def test_train_config_bomb_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "train.yaml"
    path.write_text("method: sft\n" + alias_bomb(), encoding="utf-8")
    code, err = cli(capsys, "train", "sft", "--config", str(path))
    assert code == 2 and "expands to more than" in err and str(path) in err


def test_train_override_value_is_bounded_too() -> None:
    from proclab.train.config import apply_overrides

    bomb = "[" + ", ".join(["&a [x, x, x, x, x, x, x, x, x, x]"]
                           + [f"&a{k} [" + ", ".join(["*a" if k == 0 else f"*a{k - 1}"] * 10)
                              + "]" for k in range(8)]) + "]"
    with pytest.raises(ConfigError, match="expands to more than") as info:
        apply_overrides({}, [f"lora.target_modules={bomb}"])
    assert info.value.where.startswith("--set lora.target_modules")


def test_eval_option_value_is_bounded_too() -> None:
    from proclab.evaluate.cli import parse_options

    with pytest.raises(ConfigError, match="nesting deeper"):
        parse_options(["x=" + "[" * 500 + "]" * 500])


def test_signal_taxonomy_bomb(tmp_path: Path) -> None:
    from proclab.teacher.scaffold import load_taxonomy

    path = tmp_path / "signals.yaml"
    path.write_text(alias_bomb(), encoding="utf-8")
    with pytest.raises(ConfigError, match="expands to more than"):
        load_taxonomy(path)


def test_config_reader_names_file_and_line_on_syntax_errors(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("a: 1\nb: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML") as info:
        read_yaml_mapping(path)
    assert info.value.where.startswith(f"{path}:")


# -- JSON Lines -------------------------------------------------------------------------------


def _sft_row() -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}


def _readers() -> dict[str, Callable[[Path], object]]:
    from proclab.dataset.records import read_jsonl
    from proclab.evaluate.logs import read_samples
    from proclab.interp.pairs import load_pair_records
    from proclab.train.data import load_sft_rows

    return {"dataset records": read_jsonl, "eval sample log": read_samples,
            "sft rows": load_sft_rows, "pairs": load_pair_records}


@pytest.mark.parametrize("reader", ["dataset records", "eval sample log", "sft rows", "pairs"])
def test_overlong_jsonl_line_names_file_and_line(
    reader: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROCLAB_MAX_JSONL_LINE_BYTES", "4096")
    path = tmp_path / "pairs.jsonl"
    long_row = json.dumps({**_sft_row(), "pad": "x" * 10_000})
    path.write_text("\n\n" + long_row + "\n", encoding="utf-8")
    with pytest.raises(DataError, match="line 3 is longer than the limit of 4,096 bytes") as info:
        _readers()[reader](path)
    assert info.value.where == f"{path}:3"
    assert "PROCLAB_MAX_JSONL_LINE_BYTES" in info.value.fix


def test_jsonl_lines_at_the_limit_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROCLAB_MAX_JSONL_LINE_BYTES", "10")
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'"12345678"\n\n"1"\n"partial')
    assert list(jsonl_lines(path)) == [(1, '"12345678"\n'), (3, '"1"\n'), (4, '"partial')]
    assert list(jsonl_lines(path, skip_partial_tail=True)) == [(1, '"12345678"\n'), (3, '"1"\n')]
    path.write_bytes(b'"123456789"\n')
    with pytest.raises(DataError, match="line 1 is longer"):
        list(jsonl_lines(path))


def test_jsonl_line_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": "\xff"}\n')
    with pytest.raises(DataError, match="line 2 is not valid UTF-8"):
        list(jsonl_lines(path))


def test_an_overlong_line_is_never_read_whole(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # 32 MiB on one line, no newline: the reader stops after limit + 1 bytes.
    monkeypatch.setenv("PROCLAB_MAX_JSONL_LINE_BYTES", str(1 << 20))
    path = tmp_path / "one-line.jsonl"
    with path.open("wb") as fh:
        fh.truncate(32 << 20)  # sparse: cheap to write, 32 MiB of NUL bytes to read
    seen: list[int] = []
    real_open = Path.open

    def spy_open(self: Path, *args: Any, **kwargs: Any):
        fh = real_open(self, *args, **kwargs)
        real_readline = fh.readline

        def readline(size: int = -1) -> bytes:
            seen.append(size)
            return real_readline(size)

        fh.readline = readline  # type: ignore[method-assign]
        return fh

    monkeypatch.setattr(Path, "open", spy_open)
    with pytest.raises(DataError, match="line 1 is longer"):
        list(jsonl_lines(path))
    assert seen == [(1 << 20) + 1]


# -- the Markdown importer and guards ---------------------------------------------------------


def test_megabyte_markdown_line_is_a_clear_error_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    md = tmp_path / "sop.md"
    md.write_text("# Spill\n\n1. Alert others.\n2. " + "then wait " * 110_000 + "\n",
                  encoding="utf-8")
    code, err = cli(capsys, "procedures", "import", str(md), "--out", str(tmp_path / "x.yaml"))
    assert code == 2
    assert "sop.md:4" in err and "line 4 is 1,100,003 characters long" in err
    assert "PROCLAB_MAX_IMPORT_LINE_CHARS" in err


def test_long_pathological_lines_under_the_limit_import_in_linear_time() -> None:
    # Each of these lines made one of the importer's patterns backtrack quadratically or worse
    # (a tab run in "the ... should ...", a run of '#' in a heading, a run of '(' in a role,
    # thousands of step references). They now import; the suite would stall if they did not.
    from proclab.procedures.importer import import_markdown

    lines = [
        "2. Only after " + "step 1, " * 11_000 + "sign the log.",
        "the " + "\t" * 90_000 + "!",
        "# " + "#" * 90_000 + ")",
        "## Roles (" + "(" * 90_000,
        "| " + " " * 90_000 + "!",
    ]
    text = "# Title\n\n1. Alert others.\n" + "\n".join(lines) + "\n"
    result = import_markdown(text)
    assert result.step_count >= 2
    first, second = result.procedure_dict["steps"][:2]
    assert first["text"] == "Alert others." and second["after"] == ["1"]


def test_deeply_nested_guard_is_a_syntax_error() -> None:
    from proclab.procedures.guards import parse_guard

    with pytest.raises(GuardSyntaxError, match="nested deeper than 50 levels"):
        parse_guard("(" * 5000 + "a" + ")" * 5000)
    with pytest.raises(GuardSyntaxError, match="nested deeper"):
        parse_guard("not " * 5000 + "a")
    assert parse_guard("(" * 20 + "not a" + ")" * 20).evaluate({"a": False}) is True
