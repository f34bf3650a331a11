"""The oracle teacher: signals by construction, every violation narrated, the gold answer line,
determinism per seed and varied wording."""

from __future__ import annotations

import random

import pytest
from tests.teacher.teacher_records import corpus_records, make_record

from proclab.errors import ConfigError, ErrorList
from proclab.procedures.canonical import canonical_trace
from proclab.procedures.corpus import get_procedure
from proclab.procedures.trace import Event
from proclab.prompts import final_answer_line, parse_verdict
from proclab.teacher.oracle import (
    COMPACT_PHRASES_PATH,
    MIN_PHRASINGS,
    MOVES,
    PHRASES_PATH,
    OracleTeacher,
    load_phrases,
    write_trace,
)
from proclab.teacher.scaffold import load_taxonomy, scaffold

_SLOTS = {name: "x" for _, names in MOVES.values() for name in names}


@pytest.fixture(scope="module")
def records():
    return corpus_records(limit=12)


@pytest.fixture(scope="module")
def rules():
    return load_taxonomy()


def _spill_record():
    """Step 3 skipped, step 6 done although forbidden (flammable), step 7 before step 6, and
    step 8 by a student; plus one distractor event."""
    proc = get_procedure("lab-minor-chemical-spill")
    ctx = {"spill_volume_l": 0.3, "substance_flammable": True}
    events = [e for e in canonical_trace(proc, ctx).events if e.step not in ("3", "6")]
    events = [Event(step=e.step, actor="student") if e.step == "8" else e for e in events]
    events += [Event(step=None, actor="student", detail="checked her phone"),
               Event(step="6", actor="student")]
    return make_record(proc, events, ctx, rid="spill-1", perturbation="baseline_noncompliant")


@pytest.mark.parametrize("book", [PHRASES_PATH, COMPACT_PHRASES_PATH], ids=["default", "compact"])
def test_every_phrasing_opens_with_words_that_map_to_its_signal(rules, book):
    phrases = load_phrases(book)
    for move, (signal, _) in MOVES.items():
        assert len(phrases[move]) >= MIN_PHRASINGS, move
        for text in phrases[move]:
            assert rules.classify(text.format(**_SLOTS)) == (signal, "keyword"), text


def test_paragraph_signals_are_recovered_by_the_keyword_rules(records, rules):
    teacher = OracleTeacher(seed=3)
    for record in records:
        trace = teacher.write(record)
        scaffolded = scaffold(trace.text, rules)
        assert list(scaffolded.signals) == trace.signals, record.id
        assert set(scaffolded.routes) == {"keyword"}, record.id


def test_ends_with_the_gold_final_answer_line(records):
    teacher = OracleTeacher()
    labels = set()
    for record in records:
        trace = teacher.write(record)
        assert trace.paragraphs[-1] == ("RESPONSE", final_answer_line(record.label))
        assert trace.verdict == record.label
        assert parse_verdict(trace.text) == record.label
        labels.add(record.label)
    assert labels == {"COMPLIANT", "NON-COMPLIANT"}


def test_structure_restate_recall_evidence_conclude(records):
    for record in records:
        signals = OracleTeacher().write(record).signals
        assert signals[0] == "ELABORATION"
        assert signals[-2:] == ["CONCLUSION", "RESPONSE"]
        assert "RECALL" in signals and "REASONING" in signals
        contrasts = signals.count("CONTRAST")
        assert (contrasts == 0) == (record.label == "COMPLIANT"), record.id


def test_every_violation_is_narrated_and_summarised():
    record = _spill_record()
    assert [(v.type, v.step) for v in record.violations] == [
        ("missing_step", "3"), ("prerequisite", "4"), ("forbidden_step", "6"),
        ("order", "7"), ("authority", "8")]
    trace = OracleTeacher(seed=5).write(record)
    contrasts = [text for sig, text in trace.paragraphs if sig == "CONTRAST"]
    assert len(contrasts) == 5
    for v, text in zip(record.violations, contrasts, strict=True):
        assert f"step {v.step}" in text
    summary = trace.paragraphs[-2][1]
    for phrase in ("step 3 was never done (a missing step)",
                   "step 4 went ahead before its prerequisite, step 3 (a prerequisite violation)",
                   "step 6 was done although the exception forbids it (a forbidden step)",
                   "step 7 came before step 6 (an order violation)",
                   "step 8 was done by a student, below a researcher (an authority violation)"):
        assert phrase in summary
    # The distractor is named as irrelevant; the exception is narrated from its text.
    assert '"checked her phone"' in trace.text
    assert "switch off nearby ignition sources" in trace.text
    # Nothing the student cannot see: no internal exception ids, no raw guard expressions.
    assert "flammable-ignition-control" not in trace.text
    assert "substance_flammable" not in trace.text


def test_exception_added_steps_are_narrated_where_they_happen():
    record = _spill_record()
    text = OracleTeacher().write(record).text
    # X1 (switch off ignition sources) is done second, so it is discussed before step 2.
    assert text.index("step X1") < text.index("step 2")


def test_conditional_step_that_does_not_apply_is_explained(mini):
    ctx = {"channel": "portal"}
    events = [e for e in canonical_trace(mini, ctx).events if e.step != "4"]
    record = make_record(mini, events, ctx, rid="m1", perturbation="baseline_compliant")
    assert record.label == "COMPLIANT"
    trace = OracleTeacher([mini]).write(record)
    skip = [(sig, text) for sig, text in trace.paragraphs if "step 5" in text.lower()]
    assert len(skip) == 1 and skip[0][0] == "RECALL" and 'the channel is "mail"' in skip[0][1]
    assert "Mail the paper permit" not in trace.text
    # Step 4 is internal and absent: explained as unobservable, not judged missing.
    texts = [text for _, text in trace.paragraphs]
    at = next(i for i, t in enumerate(texts) if "step 4" in t and "Assign the permit" in t)
    unobserved = {p.format(label="4") for p in load_phrases()["unobserved"]}
    assert trace.paragraphs[at + 1] in {("REASONING", p) for p in unobserved}


def test_deterministic_per_seed_and_varied_across_seeds_and_samples(records):
    first = [OracleTeacher(seed=1).write(r).text for r in records]
    again = [OracleTeacher(seed=1).write(r).text for r in records]
    other = [OracleTeacher(seed=2).write(r).text for r in records]
    second_sample = [OracleTeacher(seed=1).write(r, 1).text for r in records]
    assert first == again
    assert sum(a != b for a, b in zip(first, other, strict=True)) >= 0.9 * len(records)
    assert sum(a != b for a, b in zip(first, second_sample, strict=True)) >= 0.9 * len(records)


def test_several_phrasings_of_each_move_are_used(records):
    used: dict[str, set[str]] = {}
    teacher = OracleTeacher(seed=0)
    for record in records:
        for sig, text in teacher.write(record).paragraphs:
            used.setdefault(sig, set()).add(text.split(" ", 2)[0])
    for signal in ("ELABORATION", "RECALL", "REASONING", "CONTRAST", "CONCLUSION"):
        assert len(used[signal]) >= 4, (signal, used[signal])


def test_write_trace_follows_the_rng_it_is_given(mini):
    record = make_record(mini, list(canonical_trace(mini).events), rid="m2",
                         perturbation="baseline_compliant")
    a = write_trace(mini, record, random.Random(7)).text
    b = write_trace(mini, record, random.Random(7)).text
    assert a == b


def test_unknown_procedure_id_is_a_user_error(records):
    record = records[0].model_copy(update={"procedure_id": "lab-minor-chemical-spil"})
    with pytest.raises(ConfigError, match="did you mean 'lab-minor-chemical-spill'"):
        OracleTeacher().write(record)


def test_phrasebook_problems_are_all_reported(tmp_path):
    path = tmp_path / "phrases.yaml"
    good = load_phrases()
    data = {move: list(texts) for move, texts in good.items()}
    data["task"] = data["task"][:2]
    data["missing"] = [*data["missing"], "However, {nonsense} happened."]
    data["musing"] = ["Hmm."] * 4
    import yaml

    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ErrorList) as info:
        load_phrases(path)
    text = info.value.render()
    assert "unknown move 'musing'" in text
    assert "2 phrasings, need 4" in text
    assert "unknown placeholder(s) nonsense" in text


@pytest.mark.parametrize(
    ("order", "move", "slots"),
    [
        (["1", "2.a", "2", "2.b", "2.b.1", "3", "4", "5", "6"], "hierarchy_early",
         {"label": "2.a", "related": "2"}),
        (["1", "2", "2.a", "2.b", "3", "2.b.1", "4", "5", "6"], "hierarchy_outside",
         {"label": "2.b.1", "related": "3", "parent": "2.b"}),
        (["1", "2", "2.a", "2.b.1", "3", "4", "5", "6"], "hierarchy_orphan",
         {"label": "2.b.1", "related": "2.b"}),
        (["1", "3", "2", "2.a", "2.b", "2.b.1", "4", "5", "6"], "prerequisite_late",
         {"label": "3", "related": "2"}),
        (["1", "2", "2.a", "2.b", "2.b.1", "4", "5", "6"], "prerequisite_never",
         {"label": "4", "related": "3"}),
    ],
)
def test_each_violation_shape_gets_its_own_contrast(mini, order, move, slots):
    events = [Event(step=s, actor="officer" if s == "3" else "clerk") for s in order]
    record = make_record(mini, events, rid="m3", perturbation="hierarchy_violation")
    trace = OracleTeacher([mini], seed=2).write(record)
    expected = {("CONTRAST", p.format(**slots)) for p in load_phrases()[move]}
    assert expected & set(trace.paragraphs), move


def test_compact_procedures_get_the_compact_book_with_the_same_signals(rules):
    from proclab.dataset.build import compact_upstream, default_upstream
    from proclab.dataset.config import CompactView
    from proclab.scenarios.generate import generate

    up = compact_upstream(default_upstream(), CompactView(max_steps=6))
    proc = next(p for p in up.procedures if p.id.startswith("lab-minor-chemical-spill"))
    compact_texts = {t for texts in load_phrases(COMPACT_PHRASES_PATH).values() for t in texts}
    teacher = OracleTeacher([proc], seed=1)
    seen = 0
    for i, perturbation in enumerate(["baseline_compliant", "step_reorder_invalid",
                                      "prerequisite_omission", "hierarchy_violation"]):
        got = generate(proc, perturbation, random.Random(i), filler=False)
        if not hasattr(got, "scenario_text"):
            continue
        record = make_record(proc, list(got.trace.events), got.context, rid=f"c{i}",
                             perturbation=perturbation)
        trace = teacher.write(record)
        assert trace.verdict == got.label
        assert list(scaffold(trace.text, rules).signals) == trace.signals
        assert trace.text.endswith(final_answer_line(got.label))
        opener = trace.paragraphs[0][1].split('"')[0]
        assert any(t.startswith(opener) for t in compact_texts), opener
        longer = write_trace(proc, record, random.Random(0), phrases=PHRASES_PATH)
        assert longer.verdict == trace.verdict and len(longer.text) > 1.15 * len(trace.text)
        seen += 1
    assert seen >= 3
