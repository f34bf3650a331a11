"""Step text -> narrative phrase: past tense, bare infinitive, quotation, paraphrase; context
values -> fact sentences.

Conjugation is deliberately conservative: a verb is put into the past tense only where the text
is a plain command starting with a verb the lexicon knows, and a coordinated verb ("... and
keep them clear") only where the next word shows it is a verb. Anything else is told with a
template that keeps the bare infinitive, so the narrator never writes a wrong verb form.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from functools import cache, lru_cache

from proclab.procedures.schema import ContextVar
from proclab.procedures.styles.wording import lower_first
from proclab.scenarios.keyed import Keyed
from proclab.scenarios.lexicon import load_lexicon

# After "and", a known verb counts as a verb only when a determiner, pronoun or particle follows
# ("and keep them", "and record the date"); "location and time in the log" stays a noun.
_VERB_FOLLOWERS = frozenset({
    "the", "a", "an", "it", "them", "their", "its", "all", "any", "each", "every", "this",
    "that", "these", "those", "his", "her", "one", "both", "no",
    "out", "up", "down", "off", "back", "away",
})
_MODALS = frozenset({"can", "may", "must", "will", "should", "could", "would", "might", "shall"})
_CAUSATIVES = frozenset({"have", "let", "make", "help", "ask", "get", "tell", "instruct", "remind"})
_OBJECT_PRONOUNS = frozenset({"it", "them", "him", "her", "this", "that", "these", "those", "one"})
_NEGATIVE = frozenset(
    {"no", "not", "never", "none", "cannot", "without", "nobody", "nothing", "neither", "nor"}
)
_PRONOUNS = (
    (re.compile(r"\byourself\b"), "themselves"),
    (re.compile(r"\byour\b"), "their"),
    (re.compile(r"\bYour\b"), "Their"),
    (re.compile(r"\byou\b"), "them"),
)
_ABBREVIATIONS = (("e.g.", "for example"), ("i.e.", "that is"), ("etc.", "and so on"))
_INNER_STOP = re.compile(r"\.\s+(?=\S)")
_PARENTHESES = re.compile(r"\s*\([^)]*\)")


@dataclass(frozen=True)
class StepPhrase:
    """A step's text prepared for narration."""

    base: str  # bare-infinitive phrase: "warn the people nearby and keep them clear"
    past: str | None  # "warned the people nearby and kept them clear"; None when unsure
    quote: str  # the procedure's own wording, without its final period
    imperative: bool  # True when the text is a command starting with a known verb


@cache
def _past_map() -> dict[str, str]:
    return load_lexicon().past_tense()


def clean_text(text: str) -> str:
    """One clause without a final period or inner full stops (they would split the sentence)."""
    out = text.strip().rstrip(".").strip()
    for abbr, full in _ABBREVIATIONS:
        out = out.replace(abbr, full)
    return _INNER_STOP.sub("; ", out)


def _core(token: str) -> str:
    return token.lower().strip(",;:")


def _verb_positions(tokens: list[str]) -> tuple[list[int], bool]:
    """Indices that hold a verb (the first word; a known verb after "and" or "then" that the
    next word confirms), and whether some other known verb may also be one (after "or" or a
    comma, or after "and" without confirmation): then a past tense would be half right."""
    verbs = _past_map()
    out = [0] if tokens and _core(tokens[0]) in verbs else []
    if not out or _core(tokens[0]) in _CAUSATIVES:
        return out, False  # "have the beneficiary mark ..., then sign and date": infinitives
    unsure = False
    for i in range(1, len(tokens) - 1):
        word, cand = tokens[i].lower(), _core(tokens[i + 1])
        if (word == "to" and cand in verbs) or word in _MODALS:
            break  # "call the lab to report ... and ask", "so facilities can vent and inspect"
        if cand not in verbs or not (word in ("and", "or", "then") or word.endswith(",")):
            continue
        nxt = tokens[i + 2].lower().strip(",;:") if i + 2 < len(tokens) else ""
        if word == "then" or (word == "and" and (nxt in _VERB_FOLLOWERS or nxt.endswith("ing"))):
            out.append(i + 1)
        else:  # "or", a comma list, "and wait outside", "and water": verb or noun, unclear
            unsure = True
    return out, unsure


@lru_cache(maxsize=8192)
def to_past(base: str) -> str | None:
    """The past-tense version of a bare-infinitive phrase, or None when it is not safe."""
    tokens = base.split()
    if not tokens or tokens[0].endswith(",") or ";" in base or ":" in base:
        return None
    positions, unsure = _verb_positions(tokens)
    if unsure or not positions or positions[0] != 0:
        return None
    verbs = _past_map()
    out = list(tokens)
    for i in positions:
        word = tokens[i]
        core = _core(word)
        out[i] = verbs[core] + word[len(core) :]
    return " ".join(out)


@lru_cache(maxsize=4096)
def phrase_for(text: str) -> StepPhrase:
    """A step text prepared for narration (pronouns made third person, period dropped)."""
    quote = clean_text(text)
    plain = quote
    for pattern, repl in _PRONOUNS:
        plain = pattern.sub(repl, plain)
    base = lower_first(plain)
    tokens = base.split()
    imperative = bool(tokens) and _core(tokens[0]) in _past_map()
    return StepPhrase(base=base, past=to_past(base), quote=quote, imperative=imperative)


@cache
def _phrase_pattern() -> re.Pattern[str]:
    keys = sorted(load_lexicon().paraphrase.phrases, key=len, reverse=True)
    return re.compile(r"\b(" + "|".join(re.escape(k) for k in keys) + r")\b", re.IGNORECASE)


def _match_case(original: str, replacement: str) -> str:
    return replacement[:1].upper() + replacement[1:] if original[:1].isupper() else replacement


def paraphrase(base: str, keyed: Keyed, key: str) -> str:
    """Swap verbs (at verb positions only) and phrases for lexicon alternatives, keyed by `key`
    so the same step is re-worded the same way in both members of a pair."""
    lex = load_lexicon().paraphrase
    tokens = base.split()
    for i in _verb_positions(tokens)[0]:
        core = _core(tokens[i])
        alts = lex.verbs.get(core, [])
        if i + 1 < len(tokens) and tokens[i + 1].lower() in _OBJECT_PRONOUNS:
            # "seal it" must not become "close up it": keep one-word alternatives only.
            alts = [a for a in alts if " " not in a]
        if alts and tokens[i][-1] not in ",;:":
            tokens[i] = _match_case(tokens[i], keyed.pick(f"{key}:v{i}", alts)) + tokens[i][
                len(core) :
            ]
    count = itertools.count()

    def swap(match: re.Match[str]) -> str:
        alts = lex.phrases[match.group(1).lower()]
        return _match_case(match.group(1), keyed.pick(f"{key}:p{next(count)}", alts))

    return _phrase_pattern().sub(swap, " ".join(tokens))


# -- context facts ------------------------------------------------------------------------------


def format_value(var: ContextVar, value: bool | int | float | str) -> str:
    """How a value is written in a scenario: 0.35, 1200, "partially favorable", yes/no."""
    if var.type == "bool":
        return "yes" if value else "no"
    if var.type == "str":
        return str(value).replace("_", " ")
    if isinstance(value, float):
        text = f"{value:.2f}".rstrip("0").rstrip(".")
        return text or "0"
    return str(value)


def _stated(clause: str, value: bool) -> str | None:
    """"the liquid is flammable" + False -> "the liquid was not flammable"; None when the
    clause is not simple enough to negate safely (no is/are, a negative word, a list)."""
    clause = _PARENTHESES.sub("", clause).strip()
    words = clause.split()
    lowered = [w.lower().strip(",;:") for w in words]
    if not words or lowered[0].startswith("any") or _NEGATIVE & set(lowered):
        return None
    aux = next((i for i, w in enumerate(lowered) if w in ("is", "are", "was", "were")), None)
    if aux is None or {"or", "and"} & set(lowered[aux + 1 :]):
        return None
    verb = {"is": "was", "are": "were"}.get(lowered[aux], lowered[aux])
    words[aux] = verb if value else f"{verb} not"
    return " ".join(words)


def fact_sentence(name: str, var: ContextVar, value: bool | int | float | str, keyed: Keyed) -> str:
    """One sentence stating a context variable's value, worded from its description."""
    forms = load_lexicon().templates.facts
    desc = clean_text(var.description) or name.replace("_", " ")
    low = lower_first(desc)
    if var.type == "bool" and low.startswith("whether "):
        clause = _stated(low[len("whether ") :], bool(value))
        if clause is not None:
            form = keyed.pick(f"fact:{name}", forms.clause)
            return _capital(form.format(clause=clause, Clause=_capital(clause)))
    pool = forms.answer if var.type == "bool" else forms.value
    form = keyed.pick(f"fact:{name}", pool)
    shown = format_value(var, value)
    return _capital(form.format(desc=low, Desc=_capital(desc), desc_lc=low, value=shown))


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
