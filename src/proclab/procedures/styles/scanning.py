"""Reading a plain-text / Markdown procedure line by line into nodes: steps, exceptions and
the steps exceptions add, each with its marker, label, indentation, text and field lines; plus the
title, role ladder, purpose and data-element definitions. The importer gives the nodes their
structure and meaning; this module only finds them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pydantic import ValidationError

from proclab.procedures.schema import ContextVar
from proclab.procedures.styles import reading as rd
from proclab.procedures.styles.wording import ORDINALS


@dataclass(eq=False)
class Node:
    """A step, an exception, or a step an exception adds, as found in the text."""

    line: int
    indent: int
    kind: str  # marker kind; nodes nest when the marker kind changes at one indentation
    label: rd.Label
    block: int  # bumped at every heading / exception, where indentation nesting restarts
    texts: list[str] = field(default_factory=list)
    fields: list[tuple[str, str, int]] = field(default_factory=list)
    role: str | None = None  # the role heading it sits under
    scope: Node | None = None  # the exception whose added steps it belongs to
    is_exception: bool = False
    heading: bool = False
    parent: Node | None = None
    children: list[Node] = field(default_factory=list)
    path: rd.Label | None = None
    id: str = ""


_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")  # closing #s are stripped in Python (linear)
_RULE = re.compile(r"^\s*(?:-{3,}|\*{3,}|_{3,})\s*$")
_TABLE = re.compile(r"^\s*\|.*\|\s*$")
_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")
_BULLET = r"(?:[-*+•]\s+)?(?:\[[ xX]\]\s+|☐\s+)?"
_MARKERS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "word",
        re.compile(
            _BULLET
            + r"(?:\*\*)?(?:step|card|item|task)\s+(?P<l>[A-Za-z]?\d+[A-Za-z0-9]*(?:[.\-][A-Za-z0-9]+)*)"
            r"\s*(?P<paren>\([^)]*\))?(?:\*\*)?\s*(?:[:.)\-—–](?=\s|$)\s*|\s+(?=(?-i:[A-Z]))|$)",
            re.I,
        ),
    ),
    ("section", re.compile(_BULLET + r"§\s*(?P<l>\d+(?:\.\d+)*)\.?\s+(?:[-—–]\s+)?")),
    ("dotted", re.compile(_BULLET + r"(?P<l>\d+(?:\.\d+)+)\.?\s+(?:[-—–]\s+)?")),
    ("paren", re.compile(_BULLET + r"\((?P<l>[A-Za-z]?\d+[A-Za-z0-9]*|[a-z]{1,2})\)\s+")),
    ("close", re.compile(_BULLET + r"(?P<l>[A-Za-z]?\d+[A-Za-z0-9]*|[a-z])\)\s+")),
    ("dot", re.compile(_BULLET + r"(?P<l>\d+|[A-Z]{1,2}|[a-z]|[A-Z]\d+)\.\s+")),
    ("bullet", re.compile(r"(?P<b>[-*+•]\s+(?:\[[ xX]\]\s+)?|☐\s+)")),
)
_EXCEPTION = re.compile(
    r"^(?:[-*+]\s+)?(?:\[[ xX]\]\s+)?(?:\*\*)?exception(?:\s+card)?"
    r"(?:\s*(?P<l>[A-Za-z]?\d+)\b|(?=\s*[:—–\-)]|\s+(?:applies|if|when|where)\b))"
    r"(?:\*\*)?\s*[:—–\-)]?\s*(?P<rest>.*)$",
    re.I,
)
_ORDINAL_START = re.compile(r"^(?P<o>[A-Z][a-z]+(?:-[a-z]+)?),\s+(?P<rest>.+)$")
_PART_START = re.compile(
    r"^In (?P<ref>(?:item \d+ of )?part \([a-z]+\) of (?:the [a-z-]+ step|added step X\d+)),\s+(?P<rest>.+)$"
)
_PROSE_EXCEPTION = re.compile(r"^Exception (?P<l>\d+) applies (?P<rest>(?:when|if) .+)$")
_PROSE_ADDED = re.compile(
    r"^Under this exception there is an added step (?P<l>X\d+):\s+(?P<rest>.+)$"
)
SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z§(\"'])")
_INFO = re.compile(
    r"\b(purpose|scope|polic(?:y|ies)|responsibilit\w*|roles?|definitions?|data elements?|terms|"
    r"references?|background|legend|glossary|applicability|contents)\b",
    re.I,
)
_ADDED_BY = re.compile(r"added by exception (\w+)", re.I)
_STEPS_SECTION = re.compile(r"\b(steps|procedure|requirements|instructions|checklist)\b", re.I)
_EXC_SECTION = re.compile(r"\b(exceptions?|special cases?|deviations?|exception cards?)\b", re.I)
# Headings over a style's reading conventions ("NOTES", "## How to read the table"): what
# follows explains the steps and is not one of them.
_CONVENTIONS = re.compile(
    r"^(?:notes?|conventions?|how to (?:read|use)\b.*|reading (?:this|the|these)\b.*|"
    r"a note on\b.*)$",
    re.I,
)


class Reader:
    """One pass over the lines, collecting nodes, roles, glossary, title and leftovers."""

    def __init__(self, text: str):
        self.lines = text.splitlines()
        self.title: str | None = None
        self.description: list[str] = []
        self.ladder: list[str] = []
        self.context: dict[str, ContextVar] = {}
        self.nodes: list[Node] = []
        self.unstructured: list[str] = []
        self.notes: list[str] = []
        self.section = "steps"  # steps | exceptions | info | glossary | purpose
        self.role: str | None = None
        self.block = 0
        self.current: Node | None = None
        self.exception: Node | None = None
        self.blank = False
        self.table: list[str] | None = None
        self.first_line = next((i for i, line in enumerate(self.lines, 1) if line.strip()), 0)

    def read(self) -> None:
        for number, raw in enumerate(self.lines, start=1):
            if not raw.strip():
                self.blank, self.table = True, None
                continue
            self._line(number, raw)
            self.blank = False

    # -- one line -----------------------------------------------------------------------------

    def _line(self, n: int, raw: str) -> None:
        indent = len(raw) - len(raw.lstrip(" \t"))
        # Runs of whitespace collapse to one space: they carry no meaning inside a line, and
        # several patterns below would otherwise backtrack quadratically over a long run.
        text = " ".join(raw.split())
        if _RULE.match(text):
            return
        if _TABLE.match(text):
            return self._table_row(n, text)
        if heading := _HEADING.match(text):
            return self._heading(n, heading.group(2).rstrip().rstrip("#").strip())
        if self.title is None and n == self.first_line and self._looks_like_title(text):
            return self._heading(n, text)
        if (ladder := rd.ladder_line(text)) is not None:
            self.ladder = self.ladder or ladder
            return
        if m := re.match(r"^purpose\s*:\s*(.+)$", text, re.I):
            self.description.append(m.group(1))
            return
        if self.section in ("info", "glossary"):
            if indent == 0 and text.isupper() and len(text.split()) <= 6:
                return self._heading(n, text)  # "STEPS" after a plain-text "NOTES" block
            return self._info_line(n, text)
        if m := _EXCEPTION.match(text):
            first, *more = SENTENCE.split(m.group("rest"))
            self._start_exception(n, indent, m.group("l") or "", first, "exc")
            for sentence in more:
                self._sentence(n, indent, sentence)
            return
        if self._marker(n, indent, text):
            return
        if (fld := rd.field_line(text)) is not None:
            return self._field(n, fld)
        if indent == 0 and text.endswith(":") and len(text.split()) <= 5:
            return self._heading(n, text.rstrip(":"))
        if indent == 0 and text.isupper() and len(text.split()) <= 6:
            return self._heading(n, text)
        self._text(n, indent, text)

    def _looks_like_title(self, text: str) -> bool:
        """The first line names the procedure unless it is a step, a field or a sentence."""
        if any(p.match(text) for _, p in _MARKERS) or rd.field_line(text) or _EXCEPTION.match(text):
            return False
        return text.isupper() or (len(text.split()) <= 12 and not text.endswith("."))

    def _heading(self, n: int, text: str) -> None:
        self.block += 1
        self.current = None
        plain = re.sub(r"^(?:§\s*)?\d+(?:\.\d+)*\s*[-—–.]?\s*", "", text).strip("*_ ")
        if self.title is None and not self.nodes:
            self.title = re.sub(
                r"\s*(?:—|:|-)\s*(?:checklist|step cards|decision list)\s*$", "", text, flags=re.I
            )
            return
        if m := _EXCEPTION.match(text):
            self.section = "exceptions"
            self._start_exception(n, 0, m.group("l") or "", m.group("rest"), "exc", heading=True)
            return
        if _MARKERS[0][1].match(text) and self._marker(n, 0, text, heading=True):
            return
        if _CONVENTIONS.match(plain):
            self.section, self.role, self.exception = "info", None, None
            return
        role = rd.roleish(plain, self.ladder)
        if _EXC_SECTION.search(plain):
            self.section, self.role, self.exception = "exceptions", None, None
        elif role and (role in self.ladder or len(plain.split()) <= 3):
            self.section, self.role = "steps", role
            if role not in self.ladder:
                self.notes.append(f"line {n}: heading {plain!r} read as the role {role!r}")
        elif m := _INFO.search(plain):
            word = m.group(1).lower()
            self.section = (
                "glossary"
                if word.startswith(("definition", "data", "glossary", "terms"))
                else "info"
            )
            if word.startswith("purpose"):
                self.section = "purpose"
        elif self.section == "exceptions" and not _STEPS_SECTION.search(plain):
            # a sub-heading inside an exceptions section names one exception ("### If it rains")
            self._start_exception(n, 0, "", plain, "exc", heading=True)
        else:
            self.section, self.role = "steps", None

    def _info_line(self, n: int, text: str) -> None:
        if self.section == "glossary":
            self._glossary(n, text)

    def _glossary(self, n: int, text: str) -> None:
        m = re.search(r"`([A-Za-z_][A-Za-z0-9_]*)`\s*\(([^)]*)\)\s*[:—-]?\s*(.*)$", text)
        if not m:
            return
        name, terms, meaning = m.groups()
        kinds = {"yes/no": "bool", "whole number": "int", "number": "float", "text": "str"}
        parts = [p.strip() for p in terms.split(";")]
        vtype = kinds.get(parts[0].lower(), "str")
        values = next((p[len("values:") :].strip() for p in parts if p.startswith("values:")), None)
        default_text = next((p[len("default ") :] for p in parts if p.startswith("default ")), "")
        var = {"type": vtype, "default": _coerce(default_text, vtype), "description": meaning}
        if values:
            var["values"] = [v.strip() for v in values.split(",")]
        try:
            self.context[name] = ContextVar.model_validate(var)
        except ValidationError:
            self.unstructured.append(f"line {n}: could not read the definition of {name!r}")

    # -- items --------------------------------------------------------------------------------

    def _marker(self, n: int, indent: int, text: str, heading: bool = False) -> bool:
        for kind, pattern in _MARKERS:
            m = pattern.match(text)
            if not m or (kind == "bullet" and rd.field_line(text)):
                continue
            label = rd.norm_label(m.group("l")) if "l" in pattern.groupindex else ()
            if kind == "bullet":
                kind = "check" if "[" in m.group("b") or "☐" in m.group("b") else "bullet"
            elif kind in ("dot", "close", "paren") and len(label) == 1:
                kind += "_num" if label[0].isdigit() else "_alpha"
            rest = text[m.end() :].strip()
            if heading:
                self.block += 1
            node = self._new(n, indent, kind, label, rest, heading)
            paren = m.groupdict().get("paren")
            if paren and (role := rd.roleish(paren[1:-1], self.ladder)):
                node.fields.append(("actor", role, n))
            return True
        return False

    def _new(
        self, n: int, indent: int, kind: str, label: rd.Label, text: str, heading=False
    ) -> Node:
        in_exc = self.section == "exceptions"
        is_exc = in_exc and self._starts_exception(indent, label, text)
        if is_exc:
            return self._start_exception(n, indent, "", text, kind, label=label)
        node = Node(n, indent, kind, label, self.block, role=self.role, heading=heading)
        node.scope = self.exception if in_exc else None
        if text:
            node.texts.append(text)
        self.nodes.append(node)
        self.current, self.blank = node, False
        return node

    def _starts_exception(self, indent: int, label: rd.Label, text: str) -> bool:
        if re.match(r"^exception\b", text, re.I) or (label[:1] == ("e",) and len(label) == 2):
            return True
        exc = self.exception
        if exc is None:
            return label[:1] != ("x",)
        child_of_known = (
            label[:-1] in {x.label for x in self.nodes if x.label} if len(label) > 1 else False
        )
        return (
            indent <= exc.indent and label[:1] != ("x",) and not child_of_known and not exc.heading
        )

    def _start_exception(self, n, indent, label_text, rest, kind, heading=False, label=()) -> Node:
        self.block += 1
        node = Node(
            n,
            indent,
            kind,
            label or rd.norm_label(label_text),
            self.block,
            is_exception=True,
            heading=heading,
        )
        if rest:
            node.texts.append(rest)
        self.section = "exceptions"
        self.nodes.append(node)
        self.current = self.exception = node
        self.blank = False
        return node

    def _field(self, n: int, fld: tuple[str, str]) -> None:
        if self.current is None:
            if fld[0] == "text":
                self.description.append(fld[1])
            else:
                self.unstructured.append(f"line {n}: field outside any step: {fld[1]!r}")
            return
        self.current.fields.append((fld[0], fld[1], n))

    def _text(self, n: int, indent: int, text: str) -> None:
        for sentence in SENTENCE.split(text):
            self._sentence(n, indent, sentence.strip())

    def _sentence(self, n: int, indent: int, s: str) -> None:
        if (m := _ORDINAL_START.match(s)) and m.group("o").lower() in ORDINALS:
            label = (str(ORDINALS[m.group("o").lower()]),)
            if self.section == "exceptions":
                self.section, self.exception = "steps", None
            self._new(n, indent, "ordinal", label, m.group("rest"))
        elif m := _PART_START.match(s):
            refs = rd.find_refs(m.group("ref"))
            self._new(n, indent, "part", refs[0][0] if refs else (), m.group("rest"))
        elif m := _PROSE_EXCEPTION.match(s):
            self._start_exception(n, indent, m.group("l"), m.group("rest"), "prose")
        elif m := _PROSE_ADDED.match(s):
            self.section = "exceptions"
            self._new(n, indent, "added", rd.norm_label(m.group("l")), m.group("rest"))
        elif (
            self.section == "exceptions"
            and self.exception is not None
            and self.current is not self.exception
            and (effect := rd.exception_effect(s)) is not None
            and effect[0] != "adds"
        ):  # "Do not do step 3." under an added step still speaks for the exception
            self.exception.texts.append(s)
        elif self.current is not None and (
            not self.blank or indent > self.current.indent or not self.current.texts
        ):
            self.current.texts.append(s)
        elif not self.nodes and (
            self.section == "purpose" or not self.description or not self.blank
        ):  # the first paragraph before any step is the purpose
            self.description.append(s)
        elif self.section not in ("info", "glossary", "purpose"):
            self.unstructured.append(f"line {n}: text outside any step: {s!r}")

    # -- tables -------------------------------------------------------------------------------

    def _table_row(self, n: int, text: str) -> None:
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", text.strip())[1:-1]]
        if _TABLE_SEP.match(text):
            return
        if self.table is None:
            self.table = [c.lower() for c in cells]
            return
        if len(cells) != len(self.table):
            self.unstructured.append(
                f"line {n}: table row has {len(cells)} cells, header has {len(self.table)}"
            )
            return
        row = dict(zip(self.table, cells, strict=True))
        if any("exception" in h for h in self.table):
            self._exception_row(n, row)
        else:
            self._step_row(n, row)

    def _step_row(self, n: int, row: dict[str, str]) -> None:
        def col(*names: str) -> str:
            return next(
                (v for h, v in row.items() if any(x == h or x in h.split() for x in names)), ""
            )

        label = rd.norm_label(col("step", "#", "no", "no.", "number", "id", "card", "item"))
        text = col("action", "task", "what", "instruction", "activity", "description")
        if not text:
            text = max(row.values(), key=len)
        conditions = [
            c.strip()
            for c in col(
                "conditions", "condition", "when", "notes", "constraints", "requirements"
            ).split(";")
        ]
        added = [m.group(1) for c in conditions if (m := _ADDED_BY.search(c))]
        if added:  # "added by exception E2": the row belongs to that exception
            owners = [
                x for x in self.nodes if x.is_exception and x.label == rd.norm_label(added[0])
            ]
            self.exception = owners[0] if owners else self.exception
        node = self._new(n, 0, "table", label, text)
        if added:
            node.scope = self.exception
        if who := col("who", "role", "actor", "responsible", "by", "owner"):
            node.fields.append(("actor", who, n))
        node.fields.extend(
            ("clause", c, n)
            for c in conditions
            if c
            and not rd.no_condition(c)
            and not _ADDED_BY.search(c)
            and not c.startswith("part of")
        )

    def _exception_row(self, n: int, row: dict[str, str]) -> None:
        values = list(row.values())
        label = rd.norm_label(values[0])
        when = next((v for h, v in row.items() if "when" in h or "condition" in h or h == "if"), "")
        effect = next(
            (v for h, v in row.items() if h in ("effect", "effects", "what changes", "text")), ""
        )
        node = self._start_exception(n, 0, "", effect, "table", label=label)
        if when:
            node.fields.append(("when", when, n))


def _coerce(text: str, vtype: str) -> bool | int | float | str:
    text = text.strip().strip('"')
    try:
        if vtype == "bool":
            return text.lower() in ("true", "yes", "1")
        if vtype == "int":
            return int(text or 0)
        if vtype == "float":
            return float(text or 0)
    except ValueError:
        pass
    return text
