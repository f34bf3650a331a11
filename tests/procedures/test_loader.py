"""Loading procedure files: every bad input names file, line, field and a fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from proclab.errors import DataError, ErrorList, ProcedureError
from proclab.procedures.loader import load_procedure, load_procedures, load_trace_file
from proclab.procedures.trace import Event


def write(tmp_path: Path, text: str, name: str = "proc.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, needle: str, nth: int = 0) -> int:
    """1-based line of the `nth` line containing `needle`."""
    hits = [i + 1 for i, line in enumerate(text.splitlines()) if needle in line]
    return hits[nth]


def errors_of(path: Path) -> list[ProcedureError]:
    with pytest.raises(ErrorList) as info:
        load_procedure(path)
    return info.value.errors  # type: ignore[return-value]


def test_valid_fixture_loads(mini_text: str, tmp_path: Path) -> None:
    proc = load_procedure(write(tmp_path, mini_text))
    assert proc.id == "mini-permit"
    assert [s.id for s in proc.all_steps()] == [
        "1", "2", "2.a", "2.b", "2.b.1", "3", "4", "5", "6", "X1", "P1",
    ]  # fmt: skip


def test_malformed_yaml_names_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "id: x\ntitle: [unclosed\ndomain: fda\n")
    with pytest.raises(ProcedureError) as info:
        load_procedure(path)
    err = info.value
    assert "malformed YAML" in err.what
    assert err.where is not None and err.where.startswith(f"{path}:3:")
    assert err.fix


def test_bad_indentation_is_malformed(tmp_path: Path) -> None:
    path = write(tmp_path, "id: x\n  title: y\n")
    with pytest.raises(ProcedureError, match="malformed YAML") as info:
        load_procedure(path)
    assert info.value.where == f"{path}:2:8"


@pytest.mark.parametrize("text", ["", "   \n\n", "# only a comment\n"])
def test_empty_file(tmp_path: Path, text: str) -> None:
    with pytest.raises(ProcedureError, match="empty file") as info:
        load_procedure(write(tmp_path, text))
    assert info.value.where == str(tmp_path / "proc.yaml")


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "blob.yaml"
    path.write_bytes(b"id: x\n\x00\x01\x02")
    with pytest.raises(ProcedureError, match="binary file \\(NUL byte at offset 6\\)"):
        load_procedure(path)


def test_undecodable_file(tmp_path: Path) -> None:
    path = tmp_path / "latin.yaml"
    path.write_bytes("title: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ProcedureError, match="not valid UTF-8 \\(byte 10\\)"):
        load_procedure(path)


def test_directory_where_a_file_is_expected(tmp_path: Path) -> None:
    with pytest.raises(ProcedureError, match="is a directory"):
        load_procedure(tmp_path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ProcedureError, match="file not found") as info:
        load_procedure(tmp_path / "nope.yaml")
    assert info.value.where == str(tmp_path / "nope.yaml")


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(ProcedureError, match="top level is a list, not a mapping") as info:
        load_procedure(write(tmp_path, "\n- id: x\n- id: y\n"))
    assert info.value.where == f"{tmp_path / 'proc.yaml'}:2"


def test_duplicate_keys_are_reported(tmp_path: Path, mini_text: str) -> None:
    text = mini_text.replace("title: Mini permit request\n", "title: A\ntitle: B\n")
    with pytest.raises(ErrorList) as info:
        load_procedure(write(tmp_path, text))
    (err,) = info.value.errors
    assert "key 'title' appears twice" in err.what
    assert err.where == f"{tmp_path / 'proc.yaml'}:{line_of(text, 'title: B')}, title"


def test_all_schema_errors_at_once_with_lines(tmp_path: Path, mini_text: str) -> None:
    text = (
        mini_text.replace("domain: fda", "domain: nasa")
        .replace("    text: Approve the request.\n", "    text: Ok\n")
        .replace(
            '      - id: "2.a"\n        text',
            '      - id: "2.a"\n        colour: red\n        text',
        )
        .replace("        actor: manager\n", "")
    )
    path = write(tmp_path, text)
    errs = errors_of(path)
    by_field = {e.where.split(", ")[-1]: e for e in errs if e.where}
    assert set(by_field) == {
        "domain",
        "steps[1].children[0].colour",
        "steps[2].text",
        "exceptions[0].adds[0].actor",
    }
    assert by_field["domain"].where == f"{path}:{line_of(text, 'domain: nasa')}, domain"
    assert by_field["steps[2].text"].where.startswith(f"{path}:{line_of(text, 'text: Ok')},")
    colour = by_field["steps[1].children[0].colour"]
    assert colour.where.startswith(f"{path}:{line_of(text, 'colour: red')},")
    assert "Extra inputs" in colour.what and "allowed: id, text, actor" in (colour.fix or "")
    # a missing field points at its mapping (the step) and says what to add
    actor = by_field["exceptions[0].adds[0].actor"]
    x1_line = line_of(text, 'id: "X1"')
    assert actor.where.startswith(f"{path}:{x1_line},")
    assert actor.fix == "add `actor:`"
    # errors come in file order
    lines = [int(e.where.split(":")[1].split(",")[0]) for e in errs if e.where]
    assert lines == sorted(lines)


def test_misspelled_key_suggests_the_right_one(tmp_path: Path, mini_text: str) -> None:
    text = mini_text.replace('    requires: ["2"]\n', '    requirs: ["2"]\n', 1)
    (err,) = errors_of(write(tmp_path, text))
    assert "did you mean 'requires'?" in (err.fix or "")


def test_unquoted_numeric_id_says_to_quote(tmp_path: Path, mini_text: str) -> None:
    text = mini_text.replace('  - id: "1"\n', "  - id: 1\n")
    (err,) = errors_of(write(tmp_path, text))
    assert err.where and err.where.endswith(", steps[0].id")
    assert err.fix == 'quote it: "1" (YAML reads bare numbers as numbers)'


def test_union_errors_are_merged_into_one(tmp_path: Path, mini_text: str) -> None:
    text = mini_text.replace("    default: false\n", "    default: [1, 2]\n")
    (err,) = errors_of(write(tmp_path, text))
    assert err.where and err.where.endswith(", context.urgent.default")
    assert "matches none of the allowed types (bool, int, float, str)" in err.what


def test_validation_runs_after_the_schema(tmp_path: Path, mini_text: str) -> None:
    text = mini_text.replace('requires: ["2"]\n', 'requires: ["9"]\n', 1)
    path = write(tmp_path, text)
    (err,) = errors_of(path)
    assert "step '3' `requires` names unknown step '9'" in err.what
    bad_line = line_of(text, 'requires: ["9"]')
    assert err.where == f"{path}:{bad_line}, steps[2].requires[0]"


def test_load_procedures_walks_folders_and_collects_all_errors(
    tmp_path: Path, mini_text: str
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "deep").mkdir()
    write(tmp_path / "a", mini_text, "one.yaml")
    write(tmp_path / "a" / "deep", mini_text.replace("mini-permit", "other"), "two.yml")
    write(tmp_path / "a", "not yaml at all", "notes.txt")  # ignored: not *.yaml
    procs = load_procedures([tmp_path / "a"])
    assert [p.id for p in procs] == ["other", "mini-permit"]  # path order: a/deep/ < a/one

    write(tmp_path, mini_text, "dupe.yaml")
    write(tmp_path, "", "empty.yaml")
    with pytest.raises(ErrorList) as info:
        load_procedures([tmp_path / "a", tmp_path / "dupe.yaml", tmp_path / "empty.yaml"])
    whats = [e.what for e in info.value.errors]
    assert whats[0].startswith("procedure id 'mini-permit' is also used by")
    assert whats[1] == "empty file"


def test_trace_file_formats(tmp_path: Path) -> None:
    listed = write(
        tmp_path, '- {step: "1", actor: clerk}\n- {step: null, detail: chat}\n', "t.yaml"
    )
    trace, ctx = load_trace_file(listed)
    assert trace.events == [Event(step="1", actor="clerk"), Event(step=None, detail="chat")]
    assert ctx == {}
    mapping = write(tmp_path, '{"context": {"urgent": true}, "events": [{"step": "2"}]}', "t.json")
    trace, ctx = load_trace_file(mapping)
    assert trace.step_ids() == ["2"] and ctx == {"urgent": True}


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("steps: []", "a trace file is a list of events"),
        ("- {step: 1}", "invalid trace"),
        ("events: [{step: '1', who: x}]", "invalid trace"),
        ("context: [1]\nevents: []", "`context` must be a mapping"),
        ("events: [unclosed", "malformed trace file"),
    ],
)
def test_bad_trace_files(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(DataError, match=fragment):
        load_trace_file(write(tmp_path, text, "t.yaml"))
