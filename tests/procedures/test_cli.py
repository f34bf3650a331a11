"""`proclab procedures ...` through the real entry point: exit codes 0/2 and JSON output."""

from __future__ import annotations

import json
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import proclab.procedures
from proclab.cli import main
from proclab.procedures.corpus import load_corpus
from proclab.procedures.schema import Procedure


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        main(["procedures", *argv])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_list_json_has_every_corpus_procedure(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "list", "--json")
    assert code == 0
    rows = json.loads(out)
    corpus = load_corpus()
    assert [r["id"] for r in rows] == [p.id for p in corpus]
    spill = next(r for r in rows if r["id"] == "lab-minor-chemical-spill")
    assert spill == {
        "id": "lab-minor-chemical-spill",
        "domain": "lab_safety",
        "source": "terse_numbered",
        "steps": 10,
        "exceptions": 2,
    }


def test_list_filters_by_domain(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "list", "--domain", "lab_safety", "--json")
    assert code == 0 and {r["domain"] for r in json.loads(out)} == {"lab_safety"}
    code, out, _ = run(capsys, "list", "--domain", "lab_safety")
    assert code == 0 and "lab-minor-chemical-spill" in out and "procedures" in out


def test_list_unknown_domain_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "list", "--domain", "lab-safety")
    assert code == 2
    assert "unknown domain 'lab-safety' (did you mean 'lab_safety'?)" in err
    assert "Traceback" not in err


def test_show_by_id_and_by_file(capsys: pytest.CaptureFixture[str], fixtures_dir: Path) -> None:
    code, out, _ = run(capsys, "show", "lab-minor-chemical-spill")
    assert code == 0
    assert "roles, low to high: student < researcher < lab_supervisor < ehs_officer" in out
    assert "    4.a. Ring the spill" in out
    assert "exception large-spill-escalation (when spill_volume_l > 1.0)" in out
    assert "  replaces 4, 4.a, 4.b, 5, 6" in out
    code, out, _ = run(capsys, "show", str(fixtures_dir / "mini.yaml"))
    assert code == 0
    assert (
        "4. Assign the permit number in the registry.  (clerk; internal; not observable; requires 3)"
        in out
    )


def test_show_unknown_id_suggests(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "show", "lab-minor-chemical-spil")
    assert code == 2 and "did you mean 'lab-minor-chemical-spill'?" in err


def test_validate_corpus_and_files(capsys: pytest.CaptureFixture[str], fixtures_dir: Path) -> None:
    code, out, _ = run(capsys, "validate")
    assert code == 0 and out.strip() == f"OK: {len(load_corpus())} procedure(s) valid"
    code, out, _ = run(capsys, "validate", str(fixtures_dir / "mini.yaml"))
    assert code == 0 and out.strip() == "OK: 1 procedure(s) valid"


def test_validate_reports_every_error_with_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, mini_text: str
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(mini_text.replace("actor: officer", "actor: boss").replace('["1"]', '["0"]', 1))
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    code, out, err = run(capsys, "validate", str(tmp_path))
    assert code == 2 and out == ""
    assert "invalid procedure files (3)" in err
    assert f"{bad}:" in err and "unknown role 'boss'" in err and "unknown step '0'" in err
    assert f"{empty}: empty file" in err


def _line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def test_validate_names_a_step_without_an_event_phrasing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, mini_text: str
) -> None:
    told = """    narration:
      - "told the manager that the request had been approved"
      - "let the manager know the permit had gone through"
"""
    assert told in mini_text
    bad = tmp_path / "untold-step.yaml"
    bad.write_text(mini_text.replace(told, ""))
    code, out, err = run(capsys, "validate", str(bad))
    line = _line_of(mini_text, '  - id: "6"')
    assert code == 2 and out == ""
    assert f"{bad}:{line}, steps[5].narration" in err
    assert "observable step '6' has 0 narration phrase(s), needs at least 2" in err
    assert "fix:" in err and "Traceback" not in err


def test_validate_names_a_context_variable_without_a_narrative_phrasing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, mini_text: str
) -> None:
    said = '    narration: "The request was for a permit worth {value:,} dollars."\n'
    assert said in mini_text
    bad = tmp_path / "unstated-value.yaml"
    bad.write_text(mini_text.replace(said, ""))
    code, _, err = run(capsys, "validate", str(bad))
    line = _line_of(mini_text, "  amount:")
    assert code == 2
    assert f"{bad}:{line}, context.amount.narration" in err
    assert "context variable 'amount' has no narration" in err


def test_check_json(capsys: pytest.CaptureFixture[str], fixtures_dir: Path) -> None:
    mini = str(fixtures_dir / "mini.yaml")
    trace = str(fixtures_dir / "trace-mini.yaml")
    code, out, _ = run(capsys, "check", mini, "--trace", trace, "--json")
    assert code == 0
    payload = json.loads(out)
    assert payload["verdict"] == "NON-COMPLIANT"
    assert [(v["type"], v["step"]) for v in payload["violations"]] == [
        ("authority", "3"),
        ("missing_step", "6"),
    ]


def test_check_context_option_overrides_the_file(
    capsys: pytest.CaptureFixture[str], fixtures_dir: Path
) -> None:
    mini = str(fixtures_dir / "mini.yaml")
    trace = str(fixtures_dir / "trace-mini.yaml")
    argv = ["check", mini, "--trace", trace, "--context", "urgent=yes", "--context", "amount=1200"]
    code, out, _ = run(capsys, *argv)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "NON-COMPLIANT  (mini-permit)"
    assert lines[1] == "exceptions in force: rush"
    assert "- exception_ignored: step 3 was done although exception rush replaces it" in lines
    assert "- missing_step: required step X1 never happened" in lines


def test_check_compliant_trace(
    capsys: pytest.CaptureFixture[str], fixtures_dir: Path, tmp_path: Path
) -> None:
    events = [
        {"step": s, "actor": "officer"}
        for s in ("1", "2", "2.a", "2.b", "2.b.1", "3", "4", "5", "6")
    ]
    trace = tmp_path / "ok.json"
    trace.write_text(json.dumps(events))
    code, out, _ = run(capsys, "check", str(fixtures_dir / "mini.yaml"), "--trace", str(trace))
    assert code == 0 and out.strip() == "COMPLIANT  (mini-permit)"


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--context", "urgent=maybe"], "--context urgent=maybe: not a bool"),
        (["--context", "amount"], "bad --context 'amount'"),
        (["--context", "urgnt=1"], "unknown context variable 'urgnt'"),
    ],
)
def test_check_bad_context_is_exit_2(
    capsys: pytest.CaptureFixture[str], fixtures_dir: Path, extra: list[str], fragment: str
) -> None:
    mini = str(fixtures_dir / "mini.yaml")
    trace = str(fixtures_dir / "trace-mini.yaml")
    code, _, err = run(capsys, "check", mini, "--trace", trace, *extra)
    assert code == 2 and fragment in err


def test_check_unknown_step_in_trace_is_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    trace = tmp_path / "t.yaml"
    trace.write_text('- {step: "9", actor: student}\n')
    code, _, err = run(capsys, "check", "lab-minor-chemical-spill", "--trace", str(trace))
    assert code == 2 and "names step '9'" in err and "Traceback" not in err


def test_missing_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = run(capsys, "check", "lab-minor-chemical-spill")
    assert code == 2


def test_render_calls_the_styles_registry(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, str]] = []

    def fake_render(procedure: Procedure, style: str) -> str:
        calls.append((procedure.id, style))
        return f"rendered {procedure.id} as {style}"

    fake = types.ModuleType("proclab.procedures.styles")
    fake.render = fake_render  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "proclab.procedures.styles", fake)
    monkeypatch.setattr(proclab.procedures, "styles", fake, raising=False)
    code, out, _ = run(capsys, "render", "lab-minor-chemical-spill", "--style", "checklist")
    assert code == 0
    assert out.strip() == "rendered lab-minor-chemical-spill as checklist"
    assert calls == [("lab-minor-chemical-spill", "checklist")]


@dataclass
class FakeImport:
    yaml_text: str
    unstructured: list[str] = field(default_factory=list)


def test_import_writes_yaml_and_warns(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: list[tuple[str, str]] = []

    def fake_import(text: str, *, source_name: str) -> FakeImport:
        seen.append((text, source_name))
        return FakeImport("id: drafted\n", ["Some loose paragraph."])

    fake = types.ModuleType("proclab.procedures.importer")
    fake.import_markdown = fake_import  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "proclab.procedures.importer", fake)
    monkeypatch.setattr(proclab.procedures, "importer", fake, raising=False)
    source = tmp_path / "proc.md"
    source.write_text("1. Do a thing.\n")
    out_file = tmp_path / "draft.yaml"
    code, out, err = run(capsys, "import", str(source), "--out", str(out_file))
    assert code == 0
    assert seen == [("1. Do a thing.\n", "proc.md")]
    assert out_file.read_text() == "id: drafted\n"
    assert "warning: not structured: Some loose paragraph." in err
    code, out, _ = run(capsys, "import", str(source))
    assert code == 0 and out == "id: drafted\n"
    code, _, err = run(capsys, "import", str(tmp_path / "missing.md"))
    assert code == 2 and "file not found" in err
