"""Whole-procedure validation: ids, references, roles, guards, cycles, outline, context."""

from __future__ import annotations

from pathlib import Path

import pytest

from proclab.errors import ErrorList, GuardSyntaxError, ProcedureError
from proclab.procedures.loader import load_procedure
from proclab.procedures.schema import Procedure
from proclab.procedures.validate import SourceMap, validate_procedure


def problems(tmp_path: Path, text: str) -> list[ProcedureError]:
    path = tmp_path / "proc.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ErrorList) as info:
        load_procedure(path)
    return info.value.errors  # type: ignore[return-value]


def one(tmp_path: Path, text: str) -> ProcedureError:
    found = problems(tmp_path, text)
    assert len(found) == 1, [e.render() for e in found]
    return found[0]


def line_of(text: str, needle: str) -> int:
    return next(i + 1 for i, line in enumerate(text.splitlines()) if needle in line)


def test_fixture_is_valid(mini: Procedure) -> None:
    assert validate_procedure(mini) == []


def test_cycle_is_named(tmp_path: Path, mini_text: str) -> None:
    # 2 after 6, 6 after 3, 3 requires 2: a knot through three steps
    text = mini_text.replace('    after: ["1"]\n', '    after: ["1", "6"]\n', 1)
    err = one(tmp_path, text)
    assert err.what.startswith("ordering cycle: ")
    assert "2 before 3 (requires)" in err.what
    assert "3 before 6 (after)" in err.what
    assert "6 before 2 (after)" in err.what
    assert err.where and ":" in err.where


def test_parent_requiring_its_child_is_a_cycle(tmp_path: Path, mini_text: str) -> None:
    text = mini_text.replace('    after: ["1"]\n', '    after: ["1"]\n    requires: ["2.a"]\n', 1)
    err = one(tmp_path, text)
    assert "2 before 2.a (child of)" in err.what and "2.a before 2 (requires)" in err.what


def test_child_ordered_after_the_end_of_its_block_is_a_cycle(
    tmp_path: Path, mini_text: str
) -> None:
    # 2.b.1 must happen before 3 starts (end of step 2's block), so `after: 3` is impossible
    text = mini_text.replace(
        "            text: Count the attachment pages.\n",
        '            text: Count the attachment pages.\n            after: ["3"]\n',
    )
    err = one(tmp_path, text)
    assert "2.b.1 before 3 (block ends at)" in err.what


def test_self_reference_is_a_cycle(tmp_path: Path, mini_text: str) -> None:
    text = mini_text.replace('requires: ["2"]\n', 'requires: ["2", "3"]\n', 1)
    err = one(tmp_path, text)
    assert err.what.startswith("ordering cycle: 3 before 3 (requires)")


@pytest.mark.parametrize(
    ("old", "new", "fragment"),
    [
        ('after: ["1"]\n', 'after: ["l"]\n', "step '2' `after` names unknown step 'l'"),
        ('replaces: ["3"]', 'replaces: ["33"]', "exception 'rush' `replaces` names unknown step '33'"),
        ('forbids: ["6"]', 'forbids: ["2.c"]', "`forbids` names unknown step '2.c' (did you mean '2.b'?)"),
    ],
)  # fmt: skip
def test_unknown_step_ids(
    tmp_path: Path, mini_text: str, old: str, new: str, fragment: str
) -> None:
    text = mini_text.replace(old, new, 1)
    err = one(tmp_path, text)
    assert fragment in err.what
    where = f"{tmp_path / 'proc.yaml'}:{line_of(text, new.strip())},"
    assert err.where and err.where.startswith(where)


def test_unknown_role_suggests(tmp_path: Path, mini_text: str) -> None:
    text = mini_text.replace("    actor: officer\n", "    actor: oficer\n")
    err = one(tmp_path, text)
    assert err.what == "unknown role 'oficer' (did you mean 'officer'?)"
    assert err.where == f"{tmp_path / 'proc.yaml'}:{line_of(text, 'oficer')}, steps[2].actor"


def test_unknown_guard_variable(tmp_path: Path, mini_text: str) -> None:
    text = mini_text.replace("when: urgent and amount", "when: urgnt and amount")
    err = one(tmp_path, text)
    assert "exception 'rush' guard uses unknown context variable 'urgnt'" in err.what
    assert "(did you mean 'urgent'?)" in err.what
    assert err.where and err.where.endswith(", exceptions[0].when")


def test_bad_guard_syntax_has_column(tmp_path: Path, mini_text: str) -> None:
    text = mini_text.replace('when: channel == "mail"', 'when: channel = "mail"')
    err = one(tmp_path, text)
    assert isinstance(err, GuardSyntaxError)
    assert "column 9" in err.what and "unexpected character '='" in err.what
    assert err.where == f"{tmp_path / 'proc.yaml'}:{line_of(text, 'channel = ')}, steps[4].when"


def test_guard_type_error(tmp_path: Path, mini_text: str) -> None:
    text = mini_text.replace('when: channel == "mail"', 'when: channel == "email"')
    err = one(tmp_path, text)
    assert "'email' is not a value of 'channel' (did you mean 'mail'?)" in err.what


def test_duplicate_ids_include_exception_steps(tmp_path: Path, mini_text: str) -> None:
    text = mini_text.replace('- id: "P1"', '- id: "X1"')
    err = one(tmp_path, text)
    assert "step id 'X1' is used twice (first at exceptions[0].adds[0])" in err.what
    assert err.where and err.where.endswith("exceptions[1].adds[0].id")


def test_child_id_must_extend_parent(tmp_path: Path, mini_text: str) -> None:
    text = mini_text.replace('- id: "2.b.1"', '- id: "2.c.1"')
    err = one(tmp_path, text)
    assert "step '2.c.1' is a child of step '2.b' but its id does not extend it" in err.what
    assert err.fix and "2.b.<x>" in err.fix


def test_dotted_top_level_step_needs_its_parent(tmp_path: Path, mini_text: str) -> None:
    text = mini_text.replace('  - id: "5"', '  - id: "4.x"')
    err = one(tmp_path, text)
    assert "top-level step '4.x' has a child-style id but no parent step" in err.what


@pytest.mark.parametrize(
    ("old", "new", "fragment"),
    [
        ("    default: false\n", "    default: \"no\"\n", "default 'no' is not a bool"),
        ("    default: 100.0\n", "    default: 9000.0\n", "default 9000.0 is outside [0.0, 5000.0]"),
        ("    default: mail\n", "    default: fax\n", "default 'fax' is not one of the listed values"),
        ("    default: 100.0\n", "    default: true\n", "default True is not a float"),
    ],
)  # fmt: skip
def test_context_defaults_must_fit(
    tmp_path: Path, mini_text: str, old: str, new: str, fragment: str
) -> None:
    err = one(tmp_path, mini_text.replace(old, new, 1))
    assert err.what == fragment


def test_context_shape_problems(tmp_path: Path, mini_text: str) -> None:
    text = mini_text.replace(
        "    type: bool\n    default: false\n",
        "    type: bool\n    default: false\n    values: [a]\n    min: 1\n",
    ).replace("    min: 0\n    max: 5000\n", "    min: 10\n    max: 5\n    default_: 1\n")
    whats = sorted(e.what for e in problems(tmp_path, text))
    # the schema rejects the unknown key first; fix it and the shape checks show
    assert whats == ["Extra inputs are not permitted"]
    text = text.replace("    default_: 1\n", "")
    whats = sorted(e.what for e in problems(tmp_path, text))
    assert whats == [
        "`min`/`max` apply to int/float only",
        "`values` applies to str variables only",
        "default 100.0 is outside [10.0, 5.0]",
        "min 10.0 is above max 5.0",
    ]


def test_context_names_must_be_guard_names(tmp_path: Path, mini_text: str) -> None:
    text = mini_text.replace("  urgent:\n", "  Not:\n").replace(
        "when: urgent and", "when: true and"
    )
    err = one(tmp_path, text)
    assert err.what == "context name 'Not' cannot be used in guards"


def test_default_context_must_not_fire_an_exception(tmp_path: Path, mini_text: str) -> None:
    text = mini_text.replace("when: channel == 'portal'", "when: channel == 'mail'")
    err = one(tmp_path, text)
    assert "exception 'portal-upload' fires under the default context" in err.what
    assert err.where and err.where.endswith("exceptions[1].when")


def test_exception_cannot_add_and_forbid_a_step(tmp_path: Path, mini_text: str) -> None:
    err = one(tmp_path, mini_text.replace('forbids: ["6"]', 'forbids: ["X1"]'))
    assert err.what == "exception 'rush' both adds and forbids step 'X1'"


def test_duplicate_exception_ids(tmp_path: Path, mini_text: str) -> None:
    err = one(tmp_path, mini_text.replace("- id: portal-upload", "- id: rush"))
    assert err.what == "exception id 'rush' is used twice"


def test_many_problems_reported_together(tmp_path: Path, mini_text: str) -> None:
    text = (
        mini_text.replace("    actor: officer\n", "    actor: boss\n")
        .replace('after: ["1"]\n', 'after: ["99"]\n', 1)
        .replace("when: channel == 'portal'", "when: chanel == 'portal'")
    )
    assert len(problems(tmp_path, text)) == 3


def test_without_a_source_map_errors_name_the_procedure(mini: Procedure) -> None:
    bad = mini.model_copy(update={"roles": ["clerk", "officer"]})
    (err,) = validate_procedure(bad)
    assert err.where == "procedure mini-permit, exceptions[0].adds[0].actor"


def test_source_map_falls_back_to_the_nearest_ancestor() -> None:
    lines = SourceMap("f.yaml", {(): 1, ("steps",): 4, ("steps", 0): 5})
    assert lines.where(("steps", 0, "children", 2, "text")) == "f.yaml:5, steps[0].children[2].text"
    assert SourceMap("f.yaml").where(("id",)) == "f.yaml, id"


def test_schema_navigation_agrees_with_the_checker_indexes(mini: Procedure) -> None:
    from proclab.procedures.checker import compile_procedure

    cp = compile_procedure(mini)
    assert mini.parent_of() == cp.parent
    assert mini.parent_of()["2.b.1"] == "2.b" and mini.parent_of()["X1"] is None
    assert [mini.role_rank(r) for r in mini.roles] == [0, 1, 2]
    with pytest.raises(KeyError):
        mini.role_rank("janitor")


def test_duplicate_roles_are_a_schema_error(tmp_path: Path, mini_text: str) -> None:
    text = mini_text.replace("roles: [clerk, officer, manager]", "roles: [clerk, officer, clerk]")
    err = one(tmp_path, text)
    assert "roles listed twice: clerk" in err.what
    assert err.where == f"{tmp_path / 'proc.yaml'}:{line_of(text, 'roles:')}, roles"
