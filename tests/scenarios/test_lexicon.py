from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from proclab.errors import ConfigError
from proclab.procedures.corpus import load_corpus
from proclab.procedures.styles.wording import role_name
from proclab.scenarios import lexicon as lexicon_module
from proclab.scenarios.lexicon import DOMAINS, load_lexicon

KINDS = ("action", "check", "notify", "document", "approve", "internal")
# Words that say when something happens: the scene (opening, clock times) does that.
TIME_WORDS = re.compile(
    r"\b(morning|afternoon|evening|night|noon|midnight|dawn|dusk|sun\w*|dark\w*|lunch\w*|"
    r"breakfast|dinner|supper|today|tonight|weekend|holiday\w*|monday|tuesday|wednesday|"
    r"thursday|friday|saturday|sunday)\b", re.IGNORECASE)
FAILURE_WORDS = re.compile(
    r"\b(forg[eo]t\w*|mistak\w*|wrong\w*|miss\w*|fail\w*|broke\w*|error\w*|success\w*|"
    r"perfect\w*|correct\w*|proper\w*|late|delay\w*)\b", re.IGNORECASE)


def test_lexicon_files_load_and_validate() -> None:
    lex = load_lexicon()
    assert set(lex.scenery) == set(DOMAINS)
    for domain in DOMAINS:
        assert len(lex.scenery[domain].events) >= 20
        assert len(lex.fillers_for(domain)) >= 100
    assert len(set(lex.names.first)) >= 50 and len(set(lex.names.surname)) >= 50


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_starts_with_the_bare_template(kind: str) -> None:
    temps = load_lexicon().templates.step[kind]
    assert temps[0].text == "{name} {p}"
    assert len({t.text for t in temps}) == len(temps) >= 3


def test_template_ids_are_unique_across_families() -> None:
    t = load_lexicon().templates
    ids = [x.id for fam in (*t.step.values(), t.paraphrase, t.quote, t.distractor) for x in fam]
    assert len(ids) == len(set(ids))


def _role_words(domain: str) -> set[str]:
    """Every role of the domain's procedures, and each role's head noun ("clerk")."""
    names = {role_name(r).lower() for p in load_corpus() if p.domain == domain for r in p.roles}
    return names | {n.split()[-1] for n in names} | {n + "s" for n in names}


@pytest.mark.parametrize("domain", DOMAINS)
def test_filler_names_no_person_role_or_time(domain: str) -> None:
    lex = load_lexicon()
    roles = _role_words(domain)
    firsts = set(lex.names.first)
    for line, _ in lex.fillers_for(domain):
        words = set(re.findall(r"[a-z]+", line.lower()))
        tokens = line.lower().split()
        phrases = {f"{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False)}
        assert not roles & (words | phrases), (line, roles & (words | phrases))
        assert not firsts & set(re.findall(r"[A-Z][a-z]+", line)), line
        assert not TIME_WORDS.search(line), line
        assert not FAILURE_WORDS.search(line), line
        assert "{" not in line and line.endswith(".") and line[0].isupper()


IRREGULAR = {"ate": "eat", "made": "make", "lent": "lend", "bought": "buy", "brought": "bring",
             "told": "tell", "put": "put", "wrote": "write", "took": "take", "gave": "give"}


def _bases(past: str) -> set[str]:
    """Candidate base forms of a past-tense verb (crude, but it only has to over-match)."""
    return {IRREGULAR.get(past, past), past[:-1], past[:-2], past[:-3], past[:-3] + "y"}


@pytest.mark.parametrize("domain", DOMAINS)
def test_distractors_use_no_verb_a_step_of_the_domain_uses(domain: str) -> None:
    # A distractor reads like a decoy step when it does what a step of the domain does
    # ("signed", "booked", "sorted the mail"): its verb must be none of the steps' verbs.
    verbs = {s.text.split()[0].lower().strip(",") for p in load_corpus() if p.domain == domain
             for s in p.all_steps()}
    for event in load_lexicon().scenery[domain].events:
        assert not _bases(event.split()[0]) & verbs, event
        assert not FAILURE_WORDS.search(event), event


def test_no_verdict_words_in_narrator_text() -> None:
    lex = load_lexicon()
    t = lex.templates
    text = " ".join([
        *(line for d in DOMAINS for line, _ in lex.fillers_for(d)),
        *lex.cues.mishaps, *lex.cues.hedges, *lex.cues.reassure, *lex.cues.remarks,
        *(e for s in lex.scenery.values() for e in s.events),
        *(x.text for fam in (*t.step.values(), t.paraphrase, t.quote, t.distractor) for x in fam),
        *t.first_cues, *t.next_cues, *t.mid_cues, *t.clock_cues, *t.flashback_cues,
        *t.day_cues.next, *t.day_cues.later, *t.day_cues.flashback,
    ]).lower()
    for word in ("skip", "violat", "compliant", "omit", "neglect", "ignor", "order"):
        assert word not in text, word


def _broken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, old: str, new: str) -> None:
    copy = tmp_path / "lexicon"
    shutil.copytree(lexicon_module.LEXICON_DIR, copy)
    templates = copy / "templates.yaml"
    text = templates.read_text()
    assert old in text
    templates.write_text(text.replace(old, new), encoding="utf-8")
    monkeypatch.setattr(lexicon_module, "LEXICON_DIR", copy)
    load_lexicon.cache_clear()


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ('{id: act.ahead, text: "{name} went ahead and {p}"}', '{id: act.ahead, text: "{name} did"}',
         "templates.step.action"),
        ('"The next working day, at {t},"', '"The day after, at {t},"', "templates.day_cues"),
        ('{name} followed the written step \\"{q}\\"', '\\"{q}\\" said {name}',
         "templates.quote"),
    ],
)
def test_broken_lexicon_file_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         old: str, new: str, field: str) -> None:
    _broken(tmp_path, monkeypatch, old, new)
    try:
        with pytest.raises(ConfigError, match=field):
            load_lexicon()
    finally:
        load_lexicon.cache_clear()
