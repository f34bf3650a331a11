"""English wording shared by the house styles (role names, ordinals, lists, guards) and its
inverse, which the Markdown importer uses to read a rendered condition back into a guard.

The guard formatter is token-level on purpose: it must read any guard the corpus holds without
depending on the guard parser, and its output must be regular enough to invert.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from proclab.procedures.schema import ContextVar

# Short role words written in capitals ("ehs_officer" -> "EHS officer").
ACRONYMS = frozenset(
    {
        "ehs",
        "qa",
        "qc",
        "pi",
        "hr",
        "fda",
        "cms",
        "mac",
        "ehr",
        "rn",
        "md",
        "ra",
        "rso",
        "bso",
        "it",
    }
)
# Trailing name parts read as units ("spill_volume_l" -> "the spill volume (l)").
UNITS = frozenset(
    {
        "l",
        "ml",
        "ul",
        "kg",
        "g",
        "mg",
        "m",
        "cm",
        "mm",
        "cm2",
        "m2",
        "h",
        "hr",
        "hrs",
        "min",
        "s",
        "sec",
        "days",
        "pct",
        "percent",
        "usd",
        "ppm",
        "c",
        "f",
        "w",
        "mw",
        "kv",
        "psi",
        "bar",
    }
)
_SMALL = tuple(
    re.findall(
        r"\S+",
        (
            "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth "
            "thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth"
        ),
    )
)
_TENS = ("twent", "thirt", "fort", "fift", "sixt", "sevent", "eight", "ninet")
_UNITS_CARDINAL = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def words(text: str) -> frozenset[str]:
    """A vocabulary written as one string of words, so long word lists stay readable."""
    return frozenset(text.split())


def role_name(role: str) -> str:
    """`ehs_officer` -> "EHS officer": a role id as a reader sees it."""
    parts = [w for w in re.split(r"[_\-\s]+", role) if w]
    return " ".join(w.upper() if w.lower() in ACRONYMS else w for w in parts)


def role_id(name: str) -> str:
    """Inverse of `role_name`: "EHS officer" -> `ehs_officer`."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def article(phrase: str) -> str:
    """ "a" or "an" for a phrase, judged by its first letter (good enough for role names)."""
    return "an" if phrase[:1].lower() in "aeiou" else "a"


def ordinal_word(n: int) -> str:
    """1 -> "first", 21 -> "twenty-first" (1..99)."""
    if n < 1 or n > 99:
        raise ValueError(f"ordinal out of range: {n}")
    if n < 20:
        return _SMALL[n - 1]
    tens, unit = divmod(n, 10)
    stem = _TENS[tens - 2]
    return f"{stem}ieth" if unit == 0 else f"{stem}y-{_SMALL[unit - 1]}"


ORDINALS: dict[str, int] = {ordinal_word(n): n for n in range(1, 100)}


def cardinal_word(n: int) -> str:
    """2 -> "two" for small counts; digits beyond nine."""
    return _UNITS_CARDINAL[n - 1] if 1 <= n <= 9 else str(n)


def alpha(n: int) -> str:
    """1 -> "a", 26 -> "z", 27 -> "aa": child labels that never run out."""
    out = ""
    while n > 0:
        n, rem = divmod(n - 1, 26)
        out = chr(ord("a") + rem) + out
    return out


def join_words(items: Sequence[str], conj: str = "and") -> str:
    """["a"] -> "a"; ["a", "b", "c"] -> "a, b and c"."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {conj} {items[-1]}"


def lower_first(text: str) -> str:
    """Lower-case the first letter unless it starts an acronym ("EHS", "PL-40")."""
    if len(text) > 1 and text[0].isupper() and not text[1].isupper() and text[1] != "-":
        return text[0].lower() + text[1:]
    return text


_DETERMINERS = words("the a an this that these those each every all no its their any")
_DECLARATIVE_STARTS = _DETERMINERS | {"if", "when", "where"}
_WH_WORDS = frozenset({"whether", "why", "what", "which", "how", "when", "where", "who"})


def is_imperative(text: str) -> bool:
    """True when the step text reads as a command ("Warn ..."), not a statement ("The ...")."""
    first = text.split(maxsplit=1)[0].lower() if text.strip() else ""
    return first not in _DECLARATIVE_STARTS


# -- guards -----------------------------------------------------------------------------------

_GUARD_TOKEN = re.compile(
    r"\s*(?:(?P<str>\"[^\"]*\"|'[^']*')|(?P<num>\d+(?:\.\d+)?)"
    r"|(?P<op>==|!=|<=|>=|<|>|\(|\)|-)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<raw>\S))"
)
COMPARISONS: dict[str, str] = {
    ">=": "is at least",
    "<=": "is at most",
    "!=": "is not",
    "==": "is",
    ">": "is greater than",
    "<": "is less than",
}
_KEYWORDS = frozenset({"and", "or", "not", "true", "false"})


def _guard_tokens(expr: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    for match in _GUARD_TOKEN.finditer(expr):
        kind = match.lastgroup
        if kind is not None:
            tokens.append((kind, match.group(kind)))
    return tokens


def _name_words(name: str) -> tuple[str, str | None]:
    """`spill_volume_l` -> ("spill volume", "l"): the words and a trailing unit, if any."""
    parts = [p for p in name.split("_") if p]
    if len(parts) > 1 and parts[-1].lower() in UNITS:
        return " ".join(parts[:-1]), parts[-1]
    return " ".join(parts), None


def _description(var: ContextVar | None) -> str:
    # Only the first clause names the variable; the rest ("; tritium cannot ...") is comment.
    text = re.split(r";|\s—\s", var.description if var else "")[0].strip().rstrip(".")
    # "Volume of the spill, in litres" reads better inside a sentence as "(in litres)".
    return re.sub(r",\s+(in [^,]+)$", r" (\1)", text)


def subject_phrase(name: str, var: ContextVar | None) -> str:
    """How a variable is named as the subject of a comparison: "the spill volume (l)"."""
    desc = _description(var)
    first = desc.split(maxsplit=1)[0].lower() if desc else ""
    # "Why the claim is on hold" names no thing; the variable's own name reads better.
    if desc and first not in _WH_WORDS:
        return lower_first(desc) if first in _DETERMINERS else "the " + lower_first(desc)
    named, unit = _name_words(name)
    return f"the {named} ({unit})" if unit else f"the {named}"


def predicate_phrase(name: str, var: ContextVar | None) -> str:
    """How a boolean variable is stated on its own: "the spilled liquid is flammable"."""
    desc = _description(var)
    if desc.lower().startswith("whether "):
        return lower_first(desc[len("whether ") :])
    if desc and var is not None and var.type == "bool":
        return lower_first(desc)
    return name.replace("_", " ")


def format_guard(expr: str, context: Mapping[str, ContextVar]) -> str:
    """A guard in readable English: `spill_volume_l > 1.0` -> "the spill volume (l) is greater
    than 1.0". Unknown names are humanised the same way; nothing is evaluated."""
    tokens = _guard_tokens(expr)
    out: list[str] = []
    for i, (kind, text) in enumerate(tokens):
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ("", "")
        if kind == "op" and text in COMPARISONS:
            out.append(COMPARISONS[text])
        elif kind == "name" and text.lower() in _KEYWORDS:
            out.append(text.lower())
        elif kind == "name":
            var = context.get(text)
            if nxt[0] == "op" and nxt[1] in COMPARISONS:
                out.append(subject_phrase(text, var))
            elif out and out[-1] == "not" and _describes(var):
                out[-1] = "it is not the case that " + predicate_phrase(text, var)
            else:
                out.append(predicate_phrase(text, var))
        elif kind == "num" and out and out[-1] == "-":
            out[-1] = "-" + text
        else:
            out.append(text)
    joined = " ".join(out)
    return re.sub(r"\( ", "(", re.sub(r" \)", ")", joined))


def _describes(var: ContextVar | None) -> bool:
    return bool(var and var.description.strip())


# -- the inverse: rendered condition text back to a guard ---------------------------------------

# Comparison wordings and the operator each means; longer first, so "is not" wins over "is".
WORD_OPS: tuple[tuple[str, str], ...] = (
    ("it is not the case that", "not"),
    ("is greater than or equal to", ">="),
    ("is less than or equal to", "<="),
    ("is greater than", ">"),
    ("is more than", ">"),
    ("is above", ">"),
    ("exceeds", ">"),
    ("is at least", ">="),
    ("is less than", "<"),
    ("is below", "<"),
    ("is under", "<"),
    ("is at most", "<="),
    ("is not equal to", "!="),
    ("is not", "!="),
    ("is equal to", "=="),
    ("equals", "=="),
    ("is", "=="),
)
_GUARD_PIECE = re.compile(
    r"\"[^\"]*\"|'[^']*'|\d+(?:\.\d+)?|==|!=|<=|>=|<|>|\(|\)|-|[a-z_][a-z0-9_]*"
)


def phrase_table(context: Mapping[str, ContextVar]) -> list[tuple[str, str]]:
    """(phrase, name) pairs for every way a style may name each variable, longest first."""
    pairs: set[tuple[str, str]] = set()
    for name, var in context.items():
        for phrase in (
            subject_phrase(name, var),
            predicate_phrase(name, var),
            subject_phrase(name, None),
            predicate_phrase(name, None),
            name,
        ):
            phrase = phrase.lower()
            pairs.add((phrase, name))
            if phrase.startswith("the "):
                pairs.add((phrase[4:], name))
    return sorted(pairs, key=lambda p: (-len(p[0]), p))


def guard_from_text(text: str, context: Mapping[str, ContextVar]) -> str | None:
    """Read a condition written by `format_guard` (or a person, in the same words) back into a
    guard over `context`; None when any part of it is not a known name, literal or operator."""
    segments = re.split(r"(\"[^\"]*\"|(?<!\w)'[^']*'(?!\w))", text.strip().rstrip(".;:,"))
    table = phrase_table(context)
    rebuilt: list[str] = []
    for i, segment in enumerate(segments):
        if i % 2:  # a quoted literal, kept verbatim
            rebuilt.append(segment)
            continue
        piece = " " + segment.lower() + " "
        for phrase, name in table:
            piece = re.sub(rf"(?<![\w_]){re.escape(phrase)}(?![\w_])", f" {name} ", piece)
        for said, op in WORD_OPS:
            piece = re.sub(rf"(?<![\w_]){said}(?![\w_])", f" {op} ", piece)
        rebuilt.append(piece)
    joined = " ".join(rebuilt)
    pieces = _GUARD_PIECE.findall(joined)
    if "".join(pieces) != re.sub(r"\s+", "", joined) or not pieces:
        return None
    names = [p for p in pieces if p[0].isalpha() or p[0] == "_"]
    if any(name not in context and name not in _KEYWORDS for name in names):
        return None
    expr = " ".join(pieces)
    return expr.replace("( ", "(").replace(" )", ")")
