"""Reading house-style wording back: step references, ordering / prerequisite / guard clauses,
field names and role phrases, as the Markdown importer meets them. It sits next to the writers
so that the phrasings the styles emit and the phrasings the importer accepts stay in one place.

Labels are compared as tuples of lower-case parts: "4.a", "4a", "4(a)" and "part (a) of the
fourth step" are all ("4", "a"); "§ 4.4.1" is ("4", "4", "1"); "X2" is ("x", "2").
"""

from __future__ import annotations

import bisect
import re

from proclab.procedures.styles.wording import ORDINALS, WORD_OPS, role_id, words

Label = tuple[str, ...]


def norm_label(label: str) -> Label:
    return tuple(re.findall(r"[a-z]+|\d+", label.lower()))


# -- step references ----------------------------------------------------------------------------

_LBL = (
    r"(?:[a-z]{1,2}\d+[a-z0-9]*|\d+[a-z]?)(?:[.\-][a-z0-9]+|\([a-z0-9]+\))*|[a-z](?:\.[a-z0-9]+)*\b"
)
_REF_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "ordinal",
        re.compile(
            r"(?:item (\d+) of )?(?:part \(([a-z]+)\) of )?(?:the ([a-z]+(?:-[a-z]+)?) step|added step (x\d+))"
        ),
    ),
    ("section", re.compile(r"§\s*(\d+(?:\.\d+)*)")),
    (
        "keyword",
        re.compile(
            rf"\b(?:steps?|cards?|items?)\s+((?:{_LBL})(?:\s*(?:,|and|or|&)\s*(?:(?:step|card|item)\s+)?(?:{_LBL}))*)"
        ),
    ),
    ("paren", re.compile(r"\((x?\d+[a-z0-9]*)\)")),
    ("close", re.compile(r"(?<![\w(])(x?\d+[a-z0-9]*)\)")),
    ("dotted", re.compile(r"(?<![\w.])(\d+(?:\.\d+)+)\b")),
)


_LOOSE = frozenset({"paren", "close", "dotted"})


def find_refs(text: str, *, loose: bool = False) -> list[tuple[Label, tuple[int, int]]]:
    """Every step reference in `text`, in order, with its character span. Bare labels such as
    "(4a)", "4a)" or "30.1" count only when `loose` (a field value or a tag, where nothing but
    references is expected): in running text "19.5 percent" is not a step."""
    low = text.lower()
    taken = _Spans()
    found: list[tuple[Label, tuple[int, int]]] = []
    for kind, pattern in _REF_PATTERNS:
        if kind in _LOOSE and not loose:
            continue
        for m in pattern.finditer(low):
            if taken.overlaps(*m.span()):
                continue
            labels = _labels(kind, m)
            if labels:
                taken.add(*m.span())
                found.extend((label, m.span()) for label in labels)
    return sorted(found, key=lambda f: f[1])


class _Spans:
    """Disjoint character spans kept sorted, so an overlap test is a bisection (a line with
    thousands of references stays linear)."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []

    def overlaps(self, start: int, end: int) -> bool:
        i = bisect.bisect_right(self.starts, start)
        return (i > 0 and self.ends[i - 1] > start) or (
            i < len(self.starts) and self.starts[i] < end)

    def add(self, start: int, end: int) -> None:
        i = bisect.bisect_right(self.starts, start)
        self.starts.insert(i, start)
        self.ends.insert(i, end)


def _labels(kind: str, m: re.Match[str]) -> list[Label]:
    if kind == "ordinal":
        item, part, ordinal, added = m.groups()
        if added:
            head: Label = norm_label(added)
        elif ordinal in ORDINALS:
            head = (str(ORDINALS[ordinal]),)
        else:
            return []
        return [head + ((part,) if part else ()) + ((item,) if item else ())]
    if kind == "keyword":
        listed = re.sub(r"\b(?:steps?|cards?|items?|and|or)\b", " ", m.group(1))
        return [norm_label(x) for x in re.findall(rf"(?<![a-z0-9.])(?:{_LBL})", listed)]
    return [norm_label(m.group(1))]


# -- clauses ------------------------------------------------------------------------------------

_COMPLETION = re.compile(
    r"\b(?:(?:is|are|has been|have been|must be|must have been|to have been|be) "
    r"(?:complete|completed|finished|done|ticked)|(?:done|ticked|completed|finished) first|"
    r"after completing|after finishing)\b"
)
# "once" opens both kinds of clause; `ordering_clause` tells them apart by what follows.
_REQUIRES = re.compile(r"\b(?:requires?|needs?|prerequisites?|depends on|only once|once)\b")
_AFTER = re.compile(
    r"\b(?:only after|not before|not to be started before|may not begin before|"
    r"must not begin before|must not start before|comes after|follows|after|once)\b"
)
_BEFORE = re.compile(r"\bbefore\b")
_WHEN = re.compile(
    r"^(?:this (?:step |card )?)?(?:applies )?only (?:if|when|where)\b:?\s*(.+?)[.;]?$", re.I
)
_IF_THEN = re.compile(r"^if\s+(.+?),?\s+then,?\s+(.+)$", re.I)
_IF_COMMA = re.compile(r"^(?:if|when)\s+(.+?),\s+(.+)$", re.I)
_UNLESS = re.compile(r"^(.*?)[,;]?\s+unless\s+(.+?)[.;]?$|^unless\s+(.+?),\s+(.+)$", re.I)
_FILLER = words("this it tick and comes may only be done can is step card first the must should")
_NO_CONDITION = re.compile(r"^(?:always|none|n/?a|—|-|no precondition|no condition)\.?$", re.I)


def ordering_clause(text: str, *, loose: bool = False) -> tuple[str, list[Label], str] | None:
    """("requires" | "after" | "before", refs, leftover text) for a clause naming steps, or
    None. The leftover is what remains of an instruction once the clause is cut out of it."""
    refs = find_refs(text, loose=loose)
    if not refs:
        return None
    low = text.lower()
    once = re.search(r"\bonce\b", low)
    if _COMPLETION.search(low) or (_REQUIRES.search(low) and not once):
        kind = "requires"  # "requires step 2", "once step 3 is complete"
    elif once and not re.search(r"happen|occur|start|begun", low):
        kind = "requires"  # "once step 3, ..."; but "once 1) has happened" only orders
    elif _AFTER.search(low):
        kind = "after"
    elif _BEFORE.search(low):
        kind = "before"
    else:
        return None
    return kind, [r for r, _ in refs], _leftover(text, refs)


def _leftover(text: str, refs: list[tuple[Label, tuple[int, int]]]) -> str:
    low = text.lower()
    first = refs[0][1][0]
    # The clause opens at the keyword nearest before the first reference ("only after", ...).
    starts = [m.start() for p in (_REQUIRES, _AFTER) for m in p.finditer(low[:first])]
    starts = starts or [m.start() for m in _BEFORE.finditer(low[:first])]
    start = max(starts, default=first)
    end = refs[-1][1][1]
    tail = _COMPLETION.match(low, end + 1) or re.match(
        r"\s+(?:has|have) (?:happened|occurred)", low[end:]
    )
    if tail is not None:
        end = tail.end() if tail.re is _COMPLETION else end + tail.end()
    rest = (text[:start] + " " + text[end:]).strip(" ,;")
    rest = re.sub(r"\s+([.,;])", r"\1", re.sub(r"\s{2,}", " ", rest))
    rest = re.sub(r"[,;:]+\.", ".", rest)
    if all(w in _FILLER for w in re.findall(r"[a-z]+", rest.lower())):
        return ""
    return rest[:1].upper() + rest[1:]


def when_clause(text: str, *, first: bool) -> tuple[str, str] | None:
    """(condition, leftover instruction) for "only if ...", "if ... then ...", and - in the first
    sentence of a step only - "If ..., do ..."."""
    if m := _WHEN.match(text.strip()):
        return m.group(1), ""
    if m := _IF_THEN.match(text.strip()):
        return m.group(1), _capital(m.group(2))
    if first and (m := _IF_COMMA.match(text.strip())):
        return m.group(1), _capital(m.group(2))
    return None


def unless_clause(text: str) -> tuple[str, str] | None:
    """(condition, instruction without it) for "do X unless Y" / "Unless Y, do X"."""
    m = _UNLESS.match(text.strip())
    if not m:
        return None
    if m.group(3):
        return m.group(3), _capital(m.group(4))
    return m.group(2), _capital(m.group(1).rstrip(",;")) + "."


def no_condition(text: str) -> bool:
    return bool(_NO_CONDITION.match(text.strip()))


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


# -- exception effects --------------------------------------------------------------------------

_FORBID = re.compile(
    r"\b(?:must not|do not|don't|never|forbidden|prohibited|not to be performed|not allowed|"
    r"may not be performed)\b",
    re.I,
)
_REPLACE = re.compile(
    r"\b(?:no longer (?:required|needed)|not needed|not performed|not done|skip\w*|instead of|"
    r"in place of|replac\w*|not required)\b",
    re.I,
)
_ADD_INTRO = re.compile(r"^(?:and\s+)?(?:add|adds|added|additional|extra|the following)\b", re.I)


def exception_effect(text: str, *, loose: bool = False) -> tuple[str, list[Label]] | None:
    """("forbids" | "replaces" | "adds", refs) for a sentence stating an exception's effect."""
    refs = [r for r, _ in find_refs(text, loose=loose)]
    intro = _ADD_INTRO.match(text.strip()) and (refs or text.rstrip().endswith(":"))
    if intro or re.search(r"\bsteps? (?:are|is) added\b", text, re.I):
        return "adds", refs
    if not refs:
        return None
    if _FORBID.search(text):
        return "forbids", refs
    if _REPLACE.search(text):
        return "replaces", refs
    return None


# -- fields -------------------------------------------------------------------------------------

FIELDS: dict[str, str] = {}
for _kind, _names in {
    "actor": "who|actor|role|responsible|responsible official|responsible role|performed by|owner|"
    "assigned to|by",
    "after": "after|sequence|order|follows|not before",
    "requires": "requires|prerequisite|prerequisites|needs|depends on",
    "before": "before",
    "when": "only if|condition|conditions|if|when|applies when|applies only if|applies only when|"
    "applies if",
    "kind": "nature|kind|type",
    "text": "note|notes|why|what changes|explanation|description|details",
    "replaces": "replaces|replaced|instead of|skip|not needed|no longer required|"
    "steps no longer required|cards no longer needed|steps replaced",
    "forbids": "forbids|forbidden|steps forbidden|cards forbidden|do not tick|never do|"
    "not to be performed|do not do",
    "adds": "adds|added|add|and add|additional steps|additional requirements|extra|extra items|"
    "cards added|added steps|extra steps",
    "ignore": "part of|see also|reference",
}.items():
    for _name in _names.split("|"):
        FIELDS[_name] = _kind
_FIELD = re.compile(
    r"^(?:[-*+•]\s+)?(?P<name>"
    + "|".join(sorted(map(re.escape, FIELDS), key=len, reverse=True))
    + r")\s*:\s*(?P<value>.*)$",
    re.I,
)


def field_line(text: str) -> tuple[str, str] | None:
    """(field kind, value) for a line such as "- Who: student" or "Prerequisite: § 4.3 ..."."""
    m = _FIELD.match(text.strip())
    return (FIELDS[m.group("name").lower()], m.group("value").strip()) if m else None


# -- roles --------------------------------------------------------------------------------------

ROLE_NOUNS = words(
    "student researcher supervisor officer technician manager clerk inspector "
    "investigator reviewer nurse physician coder biller analyst specialist coordinator "
    "director staff employee worker operator auditor pharmacist assistant representative "
    "trainee lead head administrator engineer scientist custodian user member contractor "
    "agent examiner processor approver chief steward driver traveller traveler pi owner"
)
_ROLE_NOISE = re.compile(
    r"\([^()]*\)|,?\s*or (?:a |an |any(?:one)? )?(?:higher|more senior|above|senior)(?: role)?\b.*$|"
    r"\brole\b|\bthe\b|[.:;]+$",
    re.I,
)


def clean_role(text: str) -> str:
    """ "student, or a higher role." -> "student"; "Lab supervisor (or more senior)" -> ..."""
    return re.sub(r"\s{2,}", " ", _ROLE_NOISE.sub("", text)).strip(" ,;.")


def roleish(text: str, known: list[str]) -> str | None:
    """The role id `text` names, if it names a known role or looks like a role (≤ 4 words
    ending in a role noun such as "technician"); None otherwise."""
    name = clean_role(text)
    rid = role_id(name)
    if not rid:
        return None
    if rid in known:
        return rid
    parts = rid.split("_")
    return rid if len(parts) <= 4 and parts[-1] in ROLE_NOUNS else None


_LADDER = re.compile(
    r"^(?:[-*]\s+)?(?P<head>who may tick\b.*?|(?:authority ladder|ladder|role hierarchy|roles?)\b"
    r"[^:.]*):\s*(?P<list>.+)$",
    re.I,
)


def ladder_line(text: str) -> list[str] | None:
    """Role ids, junior first, from a line such as "Roles, junior to senior: a < b < c."."""
    m = _LADDER.match(text.strip())
    if not m:
        return None
    listed = re.split(r"\.\s", m.group("list") + " ", maxsplit=1)[0].strip().rstrip(".")
    parts = re.split(r"\s*(?:<|→|->|>|,|;|\bthen\b|\band\b)\s*", listed)
    roles = [role_id(clean_role(p)) for p in parts if role_id(clean_role(p))]
    if re.search(
        r"senior to junior|highest first|most senior first|high(?:est)? to low", m["head"], re.I
    ):
        roles.reverse()
    return roles or None


# -- guessing a guard when no context variable is known ------------------------------------------

_COMPARE_WORDS = sorted((w for w, op in WORD_OPS if op != "not"), key=len, reverse=True)
_GUESS_CMP = re.compile(
    r"^(?:the\s+)?(?P<subject>[a-z][a-z0-9 ()/-]{0,60}?)\s+(?P<op>"
    + "|".join(map(re.escape, _COMPARE_WORDS))
    + r")\s+(?P<value>-?\d+(?:\.\d+)?|\"[^\"]*\"|true|false)$"
)
_OPS = dict(WORD_OPS)
_VERBS = words("is are was were has have had does do did can will not")


def var_name(subject: str) -> str:
    name = re.sub(r"[^a-z0-9]+", "_", subject.lower()).strip("_")
    return name if re.match(r"^[a-z][a-z0-9_]*$", name) else ""


def guess_guard(text: str) -> tuple[str, dict[str, str]] | None:
    """A guard over *new* variable names guessed from short phrases ("the spill volume (l) is
    greater than 1.0" -> `spill_volume_l > 1.0`), with each new name's type; None if any part
    is longer than a short noun phrase."""
    parts = re.split(r"\s+(and|or)\s+", text.strip().rstrip(".").lower())
    out: list[str] = []
    types: dict[str, str] = {}
    for i, part in enumerate(parts):
        if i % 2:
            out.append(part)
            continue
        neg = re.match(r"^(?:it is not the case that|not)\s+", part)
        part = part[neg.end() :] if neg else part
        if m := _GUESS_CMP.match(part):
            name, value = var_name(m["subject"]), m["value"]
            if not name or len(name.split("_")) > 5:
                return None
            kind = _literal_type(value)
            out.append(f"{'not ' if neg else ''}{name} {_OPS[m['op']]} {value}")
        elif (
            re.match(r"^(?:the\s+)?[a-z][a-z0-9 -]*$", part)
            and len(part.split()) <= 4
            and not _VERBS.intersection(part.split())
        ):
            name, kind = var_name(re.sub(r"^the\s+", "", part)), "bool"
            if not name:
                return None
            out.append(f"{'not ' if neg else ''}{name}")
        else:
            return None
        types.setdefault(name, kind)
    return " ".join(out), types


def _literal_type(value: str) -> str:
    if value.startswith('"'):
        return "str"
    if value in ("true", "false"):
        return "bool"
    return "float" if "." in value else "int"
