from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from proclab.errors import ConfigError
from proclab.scenarios import lexicon as lexicon_module
from proclab.scenarios.lexicon import DOMAINS, load_lexicon
from proclab.scenarios.phrasing import to_past

KINDS = ("action", "check", "notify", "document", "approve", "internal")


def test_lexicon_files_load_and_validate() -> None:
    lex = load_lexicon()
    assert set(lex.scenery) == set(DOMAINS)
    for domain in DOMAINS:
        assert len(lex.scenery[domain].events) >= 10
        assert len(lex.fillers_for(domain)) > len(lex.fillers.shared)
    assert len(set(lex.names.first)) >= 50 and len(set(lex.names.surname)) >= 50


@pytest.mark.parametrize("kind", KINDS)
def test_at_least_three_distinct_templates_per_step_kind(kind: str) -> None:
    temps = load_lexicon().templates.step[kind]
    assert len({t.text for t in temps}) >= 3
    assert len({t.id for t in temps}) == len(temps)


def test_template_ids_are_unique_across_families() -> None:
    t = load_lexicon().templates
    ids = [x.id for fam in (*t.step.values(), t.statement, t.paraphrase, t.quote, t.distractor)
           for x in fam]
    assert len(ids) == len(set(ids))


def test_paraphrase_alternatives_can_be_conjugated() -> None:
    # generate() re-conjugates a paraphrased step, so each alternative must start with a verb
    # the narrator knows.
    lex = load_lexicon()
    past = lex.past_tense()
    for verb, alts in lex.paraphrase.verbs.items():
        assert verb in past, verb
        for alt in alts:
            assert alt.split()[0] in past, (verb, alt)
            assert to_past(alt + " the form") is not None


def test_no_verdict_words_in_narrator_text() -> None:
    lex = load_lexicon()
    text = " ".join([
        *lex.fillers.shared, *lex.fillers.lab_safety, *lex.fillers.fda, *lex.fillers.cms,
        *lex.cues.mishaps, *lex.cues.hedges, *lex.cues.reassure, *lex.cues.remarks,
        *(e for s in lex.scenery.values() for e in s.events),
        *(t.text for fam in lex.templates.step.values() for t in fam),
    ]).lower()
    for word in ("skip", "violat", "compliant", "omit", "neglect", "ignor", "order"):
        assert word not in text, word


def test_broken_lexicon_file_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "lexicon"
    shutil.copytree(lexicon_module.LEXICON_DIR, copy)
    templates = copy / "templates.yaml"
    templates.write_text(
        templates.read_text().replace('text: "{name} made sure to {p}"', 'text: "{name} did"'),
        encoding="utf-8",
    )
    monkeypatch.setattr(lexicon_module, "LEXICON_DIR", copy)
    load_lexicon.cache_clear()
    try:
        with pytest.raises(ConfigError, match="templates.step.action"):
            load_lexicon()
    finally:
        load_lexicon.cache_clear()
