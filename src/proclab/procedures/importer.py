"""Markdown / plain-text importer: numbered, lettered, bulleted, tabled or prose steps in, a draft
procedure YAML out, for a person to correct.

It reads common SOP layouts (and all ten proclab house styles): `1.` `1)` `Step 1:` `a.` `(a)`
`§ 4.2.1` `30.1 -` markers, nesting by indentation or by dotted labels, Markdown tables, role
headings, field lines (`Who:`, `Only if:`), prose opened by ordinal words, and clauses ("only
after step 2", "requires step 3", "only if ...", "if ... then", "unless ...", "before step 5").
What it cannot structure goes to `unstructured` with its line number; every guess it makes
(roles, actors, context variables) goes to `notes`. Nothing is dropped silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from proclab.errors import ProcedureError
from proclab.limits import limit, raise_hint
from proclab.procedures.schema import ContextVar, Procedure
from proclab.procedures.styles import reading as rd
from proclab.procedures.styles.scanning import SENTENCE, Node, Reader
from proclab.procedures.styles.structure import build_trees, ordered
from proclab.procedures.styles.wording import guard_from_text, role_id, words

DEFAULT_ROLES = ["staff", "supervisor", "manager"]
# libyaml when present: the pure-Python emitter dominates an import's run time.
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class ImportResult(BaseModel):
    """A draft procedure: `yaml_text` (always parses), the same data as `procedure_dict`, the
    lines and clauses left unstructured, the guesses made, and the number of steps found
    (main tree plus exception-added steps)."""

    model_config = ConfigDict(frozen=True)

    yaml_text: str
    procedure_dict: dict[str, Any]
    unstructured: list[str]
    notes: list[str]
    step_count: int

    def to_procedure(self) -> Procedure:
        """The draft as a `Procedure`; a ProcedureError lists every field still to fix."""
        try:
            return Procedure.model_validate(self.procedure_dict)
        except ValidationError as err:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors()
            )
            raise ProcedureError(
                f"the imported draft is not a valid procedure yet: {problems}",
                where=str(self.procedure_dict.get("id", "imported")),
                fix="edit the draft YAML (see the comments at its top) and load it again",
            ) from None


# -- meaning: actor, kind, constraints, guards ----------------------------------------------------


@dataclass
class _Draft:
    text: list[str] = field(default_factory=list)
    actor: str | None = None
    kind: str | None = None
    requires: list[tuple[rd.Label, int]] = field(default_factory=list)
    after: list[tuple[rd.Label, int]] = field(default_factory=list)
    before: list[tuple[rd.Label, int]] = field(default_factory=list)
    when: tuple[str, int] | None = None
    unless: list[tuple[str, str, int]] = field(default_factory=list)


_VERB_KINDS = {
    "notify": "inform tell call notify report alert email warn page contact ask",
    "document": "record log document file write enter register note",
    "check": "check verify identify confirm inspect test compare review ensure examine measure read",
    "approve": "approve authorize authorise sign certify endorse countersign",
}
_KIND_OF_VERB = {v: k for k, verbs in _VERB_KINDS.items() for v in verbs.split()}
# Exceptions opened by these markers state their effects in bare labels ("never do: 6)").
_LOOSE_KINDS = frozenset({"close", "close_num", "close_alpha", "paren", "paren_num", "dotted"})
_INTERNAL = re.compile(r"^(?:internal|system) determination\s*(?:\([^)]*\))?\s*:\s*", re.I)


class _Interpreter:
    """Turns each node's text and fields into a step or exception draft."""

    def __init__(self, reader: Reader):
        self.r = reader

    def step(self, node: Node) -> _Draft:
        d = _Draft()
        text = " ".join(node.texts).strip()
        if m := _INTERNAL.match(text):
            d.kind, text = "internal", text[m.end() :]
        clauses: list[str] = []
        text = self._tags(text, d, clauses)
        for i, sentence in enumerate(s for s in SENTENCE.split(text) if s.strip()):
            kept = self._sentence(sentence.strip(), i == 0, d, node)
            if kept:
                d.text.append(kept)
        for clause in clauses:
            self._clause(clause, d, node.line, whole=True)
        for kind, value, line in node.fields:
            self._field(kind, value, line, d)
        return d

    def _tags(self, text: str, d: _Draft, clauses: list[str]) -> str:
        """Cut the style-specific annotations (arrow rules, [tags], — tags, role prefixes)."""
        known = self.r.ladder
        if m := re.match(r"^(.*?)\s+(?:→|->)\s+(.*)$", text):
            left, text = m.groups()
            guard = re.search(r"(?:^|[;,]\s*)(if\s+.+)$", left)
            if guard:
                left = left[: guard.start()]
            clauses += [
                p
                for p in re.split(r";\s*", left)
                if p.strip() and not re.match(r"^(?:no precondition|within\b)", p.strip())
            ]
            clauses += [guard.group(1)] if guard else []
        if m := re.search(r"\s*\[([^\[\]]+)\]\s*$", text):
            parts = [p.strip() for p in m.group(1).split(";")]
            if (role := rd.roleish(parts[0], known)) is not None:
                d.actor, text = role, text[: m.start()]
                d.kind = "internal" if "internal" in parts else d.kind
                clauses += [p for p in parts[1:] if p != "internal"]
        if m := re.search(r"\s+—\s+([^—]+)$", text):
            parts = [p.strip() for p in m.group(1).split(" · ")]
            if (role := rd.roleish(parts[0], known)) is not None:
                d.actor, text = role, text[: m.start()]
                d.kind = "internal" if any(p.startswith("internal") for p in parts) else d.kind
                clauses += [p for p in parts[1:] if not p.startswith("internal")]
        m = re.match(r"^([A-Za-z][\w /-]{1,60}?)( \(internal determination\))?:\s+(.+)$", text)
        if m and (role := rd.roleish(m.group(1), known)) is not None:  # "student: Warn ..."
            d.actor, text = role, m.group(3)[:1].upper() + m.group(3)[1:]
            d.kind = "internal" if m.group(2) else d.kind
        m = re.search(r"\s*\(([^()]+)\)\s*\.?$", text)
        if m and (role := rd.roleish(m.group(1), known)) is not None:  # "Warn ... (student)"
            text = text[: m.start()].rstrip()
            d.actor, text = role, text if text.endswith((".", "!", "?")) else text + "."
        return text

    def _sentence(self, s: str, first: bool, d: _Draft, node: Node) -> str:
        known = self.r.ladder
        if (m := re.match(r"^(?:an?|the)\s+(.+?)\s+should\s+(.+)$", s)) and (
            role := rd.roleish(m.group(1), known)
        ):
            d.actor, s = role, m.group(2)[:1].upper() + m.group(2)[1:]
        if m := re.match(r"^this is the responsibility of (?:an?|the)\s+(.+?)\.?$", s, re.I):
            d.actor = rd.roleish(m.group(1), known) or role_id(rd.clean_role(m.group(1)))
            return ""
        if re.match(r"^(?:this is an )?internal determination\b", s, re.I):
            d.kind = "internal"
            return ""
        if re.match(r"^it has \w+ parts?\.?$", s, re.I):
            return ""
        if (fld := rd.field_line(s)) is not None:
            self._field(fld[0], fld[1], node.line, d)
            return ""
        return self._clause(s, d, node.line, first=first)

    def _clause(
        self, s: str, d: _Draft, line: int, *, first: bool = False, whole: bool = False
    ) -> str:
        """Record any clause in `s`; return what is left of the instruction."""
        if rd.no_condition(s):
            return ""
        if whole and re.match(r"^internal\b", s, re.I):
            d.kind = "internal"
            return ""
        if (u := rd.unless_clause(s)) is not None:
            d.unless.append((u[0], s, line))
            s = u[1]
        # "only when 3) is complete" orders steps; "only if ..." / "where ..." is a guard.
        guard_like = re.match(
            r"^(?:this (?:step |card )?)?(?:applies )?(?:only )?(?:if|where)\b", s, re.I
        )
        if not guard_like and (o := rd.ordering_clause(s, loose=whole)) is not None:
            kind, refs, left = o
            getattr(d, kind).extend((ref, line) for ref in refs)
            return "" if whole else left
        if whole and (g := re.match(r"^(?:only\s+)?(?:if|where|when)\s+(.+)$", s, re.I)):
            d.when = (g.group(1).rstrip("."), line)
            return ""
        if (w := rd.when_clause(s, first=first)) is not None:
            d.when = (w[0], line)
            return w[1]
        if re.search(r"\bbefore\b", s, re.I) and not whole:
            self.r.unstructured.append(
                f"line {line}: 'before' names no step, kept in the text: {s!r}"
            )
        if whole:
            self.r.unstructured.append(f"line {line}: clause not understood: {s!r}")
            return ""
        return s

    def _field(self, kind: str, value: str, line: int, d: _Draft) -> None:
        if kind == "actor":
            d.actor = rd.roleish(value, self.r.ladder) or role_id(rd.clean_role(value)) or d.actor
            d.kind = "internal" if "internal" in value.lower() else d.kind
        elif kind in ("after", "requires", "before"):
            if rd.no_condition(value):
                return
            o = rd.ordering_clause(value, loose=True)
            refs = [r for r, _ in rd.find_refs(value, loose=True)]
            if not refs:
                self.r.unstructured.append(f"line {line}: {kind} names no step: {value!r}")
                return
            target = o[0] if o is not None and o[0] == "requires" else kind
            getattr(d, target).extend((ref, line) for ref in refs)
        elif (
            kind == "when"
            and not rd.no_condition(value)
            and not value.lower().startswith("exception")
        ):
            d.when = (value, line)
        elif kind == "kind" and "internal" in value.lower():
            d.kind = "internal"
        elif kind == "text":
            d.text.append(value)
        elif kind == "clause":
            self._clause(value, d, line, whole=True)

    def exception(self, node: Node) -> tuple[str | None, int, list[str], dict[str, list[rd.Label]]]:
        """(condition, its line, text sentences, {"replaces": refs, "forbids": refs})."""
        parts = [p.strip() for p in node.texts]
        if parts:
            parts[0] = re.sub(
                r"^exception(?:\s+card)?\s*(?:[A-Za-z]?\d+)?\s*[:—–\-)]?\s*",
                "",
                parts[0],
                flags=re.I,
            )
        cond: str | None = None
        # The condition opens the exception's first line, unless a field states it.
        m = re.match(
            r"^(?:applies\s+)?(?:only\s+)?(?:if|when|where)\b\s*:?\s*(.+?)"
            r"(?:\s+(?:→|->)\s+(?:exception:\s*)?|:\s+|\.\s+|\.?$)(.*)$",
            parts[0] if parts else "",
            re.I | re.S,
        )
        if m and not any(kind == "when" for kind, _, _ in node.fields):
            cond, parts[0] = m.group(1), m.group(2)
        text = " ".join(p for p in parts if p)
        kept: list[str] = []
        effects: dict[str, list[rd.Label]] = {"replaces": [], "forbids": []}
        for sentence in (s.strip() for s in SENTENCE.split(text) if s.strip()):
            effect = rd.exception_effect(sentence, loose=node.kind in _LOOSE_KINDS)
            if effect is None:
                kept.append(sentence)
            elif effect[0] != "adds":
                effects[effect[0]].extend(effect[1])
        for kind, value, _line in node.fields:
            if kind == "when":
                cond = value
            elif kind == "text":
                kept.append(value)
            elif kind in ("replaces", "forbids"):
                effects[kind].extend(r for r, _ in rd.find_refs(value, loose=True))
        return cond, node.line, kept, effects


# -- assembly -------------------------------------------------------------------------------------


def import_markdown(text: str, *, source_name: str = "imported") -> ImportResult:
    """Draft a procedure from plain text / Markdown (see the module docstring). Never raises on
    odd input (what it cannot read is reported in `unstructured`), only on a line longer than
    the `import_line_chars` limit of `proclab.limits`; the work is linear in the text."""
    _check_line_lengths(text, source_name)
    reader = Reader(text)
    reader.read()
    build_trees(reader.nodes)
    return _Assembly(reader, source_name).result()


def _check_line_lengths(text: str, source_name: str) -> None:
    cap = limit("import_line_chars")
    if len(text) <= cap:
        return
    for n, line in enumerate(text.splitlines(), start=1):
        if len(line) > cap:
            raise ProcedureError(
                f"line {n} is {len(line):,} characters long, over the importer's limit of "
                f"{cap:,}", where=f"{source_name}:{n}",
                fix="break it into one line per step or paragraph, " + raise_hint(
                    "import_line_chars"))


class _Assembly:
    def __init__(self, reader: Reader, source: str):
        self.r = reader
        self.source = source
        interpreter = _Interpreter(reader)
        self.steps = [n for n in reader.nodes if not n.is_exception]
        self.drafts = {n: interpreter.step(n) for n in self.steps}
        self.exceptions = [(n, interpreter.exception(n)) for n in reader.nodes if n.is_exception]
        self.by_path: dict[rd.Label, Node] = {}
        for node in self.steps:
            if node.path is not None:
                self.by_path.setdefault(node.path, node)
        self.roles = self._roles()
        self.context: dict[str, ContextVar] = dict(reader.context)
        self.unless: list[dict[str, Any]] = []
        self.defaulted: list[str] = []
        self.before: dict[str, list[str]] = {}
        for node, draft in self.drafts.items():
            for target in self._resolve(draft.before):
                self.before.setdefault(target, []).append(node.id)

    def _roles(self) -> list[str]:
        roles = list(self.r.ladder)
        seen = [a for a in (d.actor or n.role for n, d in self.drafts.items()) if a]
        extra = list(dict.fromkeys(a for a in seen if a not in roles))
        if not roles and extra:
            self.r.notes.append(f"no role ladder found; roles in order of first mention: {extra}")
        elif not roles:
            extra = list(DEFAULT_ROLES)
            self.r.notes.append(f"no roles found; using the default ladder {extra}")
        elif extra:
            self.r.notes.append(f"actors missing from the role ladder, appended to it: {extra}")
        return roles + extra

    def _actor(self, node: Node) -> str:
        draft = self.drafts[node]
        if draft.actor or node.role:
            return draft.actor or node.role or ""
        if node.parent is not None:
            return self._actor(node.parent)
        if node.id not in self.defaulted:
            self.defaulted.append(node.id)
        return self.roles[0]

    def _resolve(self, refs: list[tuple[rd.Label, int]]) -> list[str]:
        ids: list[str] = []
        for ref, line in refs:
            target = self.by_path.get(ref)
            if target is None:
                self.r.unstructured.append(
                    f"line {line}: reference to step {'.'.join(ref)} not found"
                )
            elif target.id not in ids:
                ids.append(target.id)
        return ids

    def _guard(self, cond: str, line: int) -> str | None:
        if expr := guard_from_text(cond, self.context):
            return expr
        if guess := rd.guess_guard(cond):
            expr, types = guess
            for name, vtype in types.items():
                if name not in self.context:
                    default = {"bool": False, "int": 0, "float": 0.0, "str": ""}[vtype]
                    self.context[name] = ContextVar(type=vtype, default=default)  # type: ignore[arg-type]
                    self.r.notes.append(
                        f"line {line}: guessed context variable {name!r} ({vtype}) from {cond!r}"
                    )
            return expr
        self.r.unstructured.append(
            f"line {line}: condition kept as text, it names no known context variable: {cond!r}"
        )
        return None

    def _step(self, node: Node) -> dict[str, Any]:
        draft = self.drafts[node]
        text = " ".join(t.strip() for t in draft.text if t.strip())
        if not text:
            self.r.unstructured.append(f"line {node.line}: step {node.id} has no text")
        first = text.split(maxsplit=1)[0].lower().strip(",.:") if text else ""
        out: dict[str, Any] = {
            "id": node.id,
            "text": text,
            "actor": self._actor(node),
            "kind": draft.kind or _KIND_OF_VERB.get(first, "action"),
        }
        requires = [i for i in self._resolve(draft.requires) if i != node.id]
        after = [
            i
            for i in self._resolve(draft.after) + self.before.get(node.id, [])
            if i != node.id and i not in requires
        ]
        if requires:
            out["requires"] = requires
        if after:
            out["after"] = list(dict.fromkeys(after))
        if draft.when and (guard := self._guard(*draft.when)):
            out["when"] = guard
        for cond, sentence, line in draft.unless:
            self.unless.append(
                {
                    "id": f"unless-{node.id.replace('.', '-')}",
                    "when": self._guard(cond, line) or cond,
                    "text": sentence,
                    "replaces": [node.id],
                }
            )
            self.r.notes.append(
                f"line {line}: 'unless' drafted as an exception replacing step "
                f"{node.id}; add the steps to do instead"
            )
        if node.children:
            out["children"] = [self._step(c) for c in node.children]
        return out

    def _exception(self, k: int, node: Node, parsed) -> dict[str, Any]:
        cond, line, kept, effects = parsed
        when = ""
        if cond:
            when = self._guard(cond, line) or cond
        else:
            self.r.unstructured.append(f"line {line}: exception {k} states no condition")
        out: dict[str, Any] = {
            "id": f"exception-{k}",
            "when": when,
            "text": " ".join(kept) or (f"When {cond}." if cond else ""),
        }
        for kind in ("replaces", "forbids"):
            if ids := self._resolve([(ref, line) for ref in effects[kind]]):
                out[kind] = ids
        if node.children:
            out["adds"] = [self._step(c) for c in node.children]
        return out

    def result(self) -> ImportResult:
        roots = ordered([n for n in self.steps if n.parent is None and n.scope is None])
        steps = [self._step(n) for n in roots]
        exceptions = [self._exception(k, n, p) for k, (n, p) in enumerate(self.exceptions, 1)]
        exceptions += self.unless
        if not steps:
            self.r.unstructured.append(
                "no steps found: expected numbered, lettered or bulleted "
                "lines, a table, or paragraphs opened by First, Second, ..."
            )
        if self.defaulted:
            self.r.notes.append(
                f"no actor found for steps {self.defaulted}; gave them {self.roles[0]!r}"
            )
        title = _title(self.r.title) or self.source
        body = " ".join(" ".join(n.texts) for n in self.r.nodes)
        proc: dict[str, Any] = {
            "id": _slug(title) or _slug(self.source) or "imported",
            "title": title,
            "domain": self._domain(body),
            # The house-style family is the user's call; `source_name` only names the input.
            "source": "imported",
        }
        if self.r.description:
            proc["description"] = " ".join(self.r.description)
        proc["roles"] = self.roles
        if self.context:
            proc["context"] = {
                name: {
                    k: v
                    for k, v in var.model_dump().items()
                    if v is not None and (v != "" or k == "default")
                }
                for name, var in self.context.items()
            }
        proc["steps"] = steps
        if exceptions:
            proc["exceptions"] = exceptions
        count = sum(_count(s) for s in steps) + sum(
            _count(a) for e in exceptions for a in e.get("adds", [])
        )
        return ImportResult(
            yaml_text=self._yaml(proc),
            procedure_dict=proc,
            unstructured=list(self.r.unstructured),
            notes=list(self.r.notes),
            step_count=count,
        )

    def _domain(self, body: str) -> str:
        words = re.findall(r"[a-z]+", body.lower())
        scores = {d: sum(w in vocab for w in words) for d, vocab in _DOMAIN_WORDS.items()}
        best = max(scores, key=lambda d: scores[d])
        domain = best if scores[best] > 0 else "lab_safety"
        self.r.notes.append(f"domain guessed as {domain!r} from the wording")
        return domain

    def _yaml(self, proc: dict[str, Any]) -> str:
        head = [f"# Draft procedure imported by proclab from {self.source}; review before use."]
        for title, items in (
            ("Not structured, fix by hand", self.r.unstructured),
            ("Guesses made", self.r.notes),
        ):
            if items:
                head.append(f"# {title} ({len(items)}):")
                head += [f"#   {' '.join(item.split())}" for item in items]
        return (
            "\n".join(head)
            + "\n"
            + yaml.dump(proc, Dumper=_DUMPER, sort_keys=False, allow_unicode=True, width=100)
        )


_DOMAIN_WORDS = {
    "cms": words(
        "medicare claim claims billing billed modifier remittance beneficiary hcpcs cpt payer "
        "coder biller"
    ),
    "fda": words(
        "inspection inspector investigator firm fda district credential credentials "
        "establishment sample consignee invoice vendor voucher contracting travel"
    ),
    "lab_safety": words("lab laboratory spill chemical fume hood ppe goggles gloves waste ehs"),
}


def _count(step: dict[str, Any]) -> int:
    return 1 + sum(_count(c) for c in step.get("children", []))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _title(raw: str | None) -> str:
    if not raw:
        return ""
    title = re.sub(
        r"\s*(?:—|:|-)\s*(?:checklist|step cards|decision list)\s*$", "", raw.strip(), flags=re.I
    ).strip("#*_ ")
    return title[:1] + title[1:].lower() if title.isupper() else title
