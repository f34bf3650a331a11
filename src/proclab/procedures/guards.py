"""The guard language: the `when` expressions of steps and exceptions, parsed safely.

Grammar (keywords and `true`/`false` are case-insensitive):

    guard      := or_expr
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | comparison
    comparison := operand (("==" | "!=" | "<" | "<=" | ">" | ">=") operand)?
    operand    := NUMBER | "-" NUMBER | STRING | "true" | "false" | NAME | "(" guard ")"

A bare NAME is a truthiness test (`substance_flammable`). Nothing is ever `eval`ed: a guard is
an AST compiled into nested closures, and `parse_guard` caches by text because the checker
evaluates the same few guards on every trace of a dataset build.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from proclab.errors import GuardSyntaxError, ProclabError
from proclab.limits import limit, raise_hint
from proclab.procedures.schema import ContextVar
from proclab.registry import suggest

Value = bool | int | float | str
Evaluator = Callable[[Mapping[str, Any]], Any]

KEYWORDS = frozenset({"and", "or", "not", "true", "false"})
NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_TOKEN = re.compile(
    r"(?P<ws>\s+)"
    r"|(?P<number>(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>==|!=|<=|>=|<|>|\(|\)|-)"
    r"|(?P<quote>['\"])"
)
# Operators people reach for from other languages, with what to write instead.
_FOREIGN = {"=": "==", "&&": "and", "&": "and", "||": "or", "|": "or", "!": "not"}


@dataclass(frozen=True)
class Token:
    kind: str  # number | string | name | keyword | op | end
    text: str
    col: int
    value: Value | None = None


def _syntax_error(text: str, col: int, message: str, fix: str | None = None) -> GuardSyntaxError:
    caret = f"\n    {text}\n    {' ' * col}^"
    err = GuardSyntaxError(f"guard syntax error at column {col + 1}: {message}{caret}", fix=fix)
    err.column = col  # type: ignore[attr-defined]
    err.expression = text  # type: ignore[attr-defined]
    return err


def _read_string(text: str, start: int) -> tuple[str, int]:
    """The string literal opening at `start` (a quote) and the index just past it."""
    quote, out, i = text[start], [], start + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        if ch == quote:
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    raise _syntax_error(text, start, "unterminated string", fix=f"close the string with {quote}")


def tokenize(text: str) -> list[Token]:
    """Split a guard into tokens; the last one has kind `end`."""
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            two, one = text[pos : pos + 2], text[pos]
            bad = two if two in _FOREIGN else one
            fix = f"write `{_FOREIGN[bad]}` instead of `{bad}`" if bad in _FOREIGN else None
            raise _syntax_error(text, pos, f"unexpected character {bad!r}", fix=fix)
        kind = m.lastgroup
        if kind == "quote":
            value, end = _read_string(text, pos)
            tokens.append(Token("string", text[pos:end], pos, value))
            pos = end
            continue
        word = m.group()
        if kind == "number":
            num: int | float = float(word) if any(c in word for c in ".eE") else int(word)
            tokens.append(Token("number", word, pos, num))
        elif kind == "name" and word.lower() in KEYWORDS:
            tokens.append(Token("keyword", word.lower(), pos))
        elif kind in ("name", "op"):
            tokens.append(Token(str(kind), word, pos))
        pos = m.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


# -- AST -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lit:
    value: Value
    col: int


@dataclass(frozen=True)
class Var:
    name: str
    col: int


@dataclass(frozen=True)
class Not:
    operand: Node
    col: int


@dataclass(frozen=True)
class BoolOp:
    op: str  # "and" | "or"
    items: tuple[Node, ...]
    col: int


@dataclass(frozen=True)
class Compare:
    op: str
    left: Node
    right: Node
    col: int


Node = Lit | Var | Not | BoolOp | Compare


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.depth, self.max_depth = 0, limit("guard_depth")

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def _take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def _fail(self, tok: Token, expected: str, fix: str | None = None) -> GuardSyntaxError:
        found = "end of expression" if tok.kind == "end" else repr(tok.text)
        return _syntax_error(self.text, tok.col, f"expected {expected}, found {found}", fix)

    def parse(self) -> Node:
        if self.tok.kind == "end":
            raise _syntax_error(self.text, 0, "empty guard", fix="write a condition or drop `when`")
        node = self.or_expr()
        if self.tok.kind != "end":
            raise self._fail(self.tok, "`and`, `or` or the end of the guard")
        return node

    def _chain(self, op: str, sub: Callable[[], Node]) -> Node:
        first = sub()
        items = [first]
        while self.tok.kind == "keyword" and self.tok.text == op:
            self._take()
            items.append(sub())
        return first if len(items) == 1 else BoolOp(op, tuple(items), _col(first))

    def or_expr(self) -> Node:
        return self._chain("or", self.and_expr)

    def and_expr(self) -> Node:
        return self._chain("and", self.not_expr)

    def _nest(self, tok: Token) -> None:
        # The parser (and the compiler after it) recurse once per level: bound the depth so a
        # hostile guard is a syntax error, not a RecursionError.
        self.depth += 1
        if self.depth > self.max_depth:
            raise _syntax_error(self.text, tok.col, f"nested deeper than {self.max_depth} "
                                "levels of '(' and `not`",
                                fix=f"simplify the guard, {raise_hint('guard_depth')}")

    def not_expr(self) -> Node:
        if self.tok.kind == "keyword" and self.tok.text == "not":
            tok = self._take()
            self._nest(tok)
            node = Not(self.not_expr(), tok.col)
            self.depth -= 1
            return node
        return self.comparison()

    def comparison(self) -> Node:
        left = self.operand()
        if not (self.tok.kind == "op" and self.tok.text in _COMPARE):
            return left
        op_tok = self._take()
        right = self.operand()
        if self.tok.kind == "op" and self.tok.text in _COMPARE:
            raise _syntax_error(
                self.text,
                self.tok.col,
                "chained comparisons are not supported",
                fix="split it: `a < b and b < c`",
            )
        return Compare(op_tok.text, left, right, op_tok.col)

    def operand(self) -> Node:
        tok = self._take()
        if tok.kind in ("number", "string"):
            assert tok.value is not None
            return Lit(tok.value, tok.col)
        if tok.kind == "keyword" and tok.text in ("true", "false"):
            return Lit(tok.text == "true", tok.col)
        if tok.kind == "name":
            return Var(tok.text, tok.col)
        if tok.kind == "op" and tok.text == "-":
            num = self._take()
            if num.kind != "number":
                raise self._fail(num, "a number after '-'")
            assert isinstance(num.value, int | float)
            return Lit(-num.value, tok.col)
        if tok.kind == "op" and tok.text == "(":
            self._nest(tok)
            inner = self.or_expr()
            self.depth -= 1
            if self.tok.kind != "op" or self.tok.text != ")":
                raise self._fail(
                    self.tok, "')'", fix=f"close the '(' opened at column {tok.col + 1}"
                )
            self._take()
            return inner
        raise self._fail(tok, "a value, a context name or '('")


def _col(node: Node) -> int:
    if isinstance(node, Compare):
        return _col(node.left)
    return node.col


# -- compiled guard ------------------------------------------------------------------------


def _compile(node: Node, text: str) -> Evaluator:
    """Nested closures: evaluating is plain function calls, no tree walk per call."""
    if isinstance(node, Lit):
        value = node.value
        return lambda ctx: value
    if isinstance(node, Var):
        name = node.name

        def lookup(ctx: Mapping[str, Any]) -> Any:
            try:
                return ctx[name]
            except KeyError:
                raise ProclabError(
                    f"guard `{text}` uses context variable {name!r}, which the context lacks",
                    fix="declare it under `context:` in the procedure or pass a value for it",
                ) from None

        return lookup
    if isinstance(node, Not):
        inner = _compile(node.operand, text)
        return lambda ctx: not inner(ctx)
    if isinstance(node, BoolOp):
        items = tuple(_compile(item, text) for item in node.items)
        if node.op == "and":
            return lambda ctx: all(f(ctx) for f in items)
        return lambda ctx: any(f(ctx) for f in items)
    return _compile_compare(node, text)


def _compile_compare(node: Compare, text: str) -> Evaluator:
    left, right = _compile(node.left, text), _compile(node.right, text)
    fn, op = _COMPARE[node.op], node.op

    def compare(ctx: Mapping[str, Any]) -> bool:
        a, b = left(ctx), right(ctx)
        try:
            return fn(a, b)
        except TypeError:
            raise ProclabError(
                f"guard `{text}` cannot compare {a!r} {op} {b!r}",
                fix="give the context variable a value of its declared type",
            ) from None

    return compare


def _names(node: Node) -> frozenset[str]:
    if isinstance(node, Var):
        return frozenset({node.name})
    if isinstance(node, Lit):
        return frozenset()
    if isinstance(node, Not):
        return _names(node.operand)
    if isinstance(node, BoolOp):
        return frozenset().union(*(_names(i) for i in node.items))
    return _names(node.left) | _names(node.right)


@dataclass(frozen=True, eq=False)
class Guard:
    """A parsed guard: `names()` are the context variables it reads, `evaluate(ctx)` its value."""

    text: str
    root: Node
    _fn: Evaluator = field(repr=False)

    def names(self) -> frozenset[str]:
        return _names(self.root)

    def evaluate(self, context: Mapping[str, Any]) -> bool:
        """Truth of the guard in `context`; a missing name raises ProclabError."""
        return bool(self._fn(context))


@lru_cache(maxsize=4096)
def parse_guard(text: str) -> Guard:
    """Parse a guard expression (cached by text); raises GuardSyntaxError with a caret line."""
    root = _Parser(text).parse()
    return Guard(text, root, _compile(root, text))


# -- static types (cheap checks run by validate.py) ----------------------------------------

_KIND = {"bool": "bool", "int": "number", "float": "number", "str": "string"}


def _lit_kind(value: Value) -> str:
    if isinstance(value, bool):
        return "bool"
    return "string" if isinstance(value, str) else "number"


def type_errors(guard: Guard, variables: Mapping[str, ContextVar]) -> list[str]:
    """Type problems of `guard` given the declared context variables (unknown names are
    skipped: validate.py reports them separately). Empty when the guard is well typed."""
    problems: list[str] = []
    kind = _infer(guard.root, variables, problems)
    if kind not in (None, "bool"):
        problems.append(f"the guard is a {kind}, not a condition; compare it, e.g. `... > 0`")
    return problems


def _infer(node: Node, variables: Mapping[str, ContextVar], problems: list[str]) -> str | None:
    if isinstance(node, Lit):
        return _lit_kind(node.value)
    if isinstance(node, Var):
        var = variables.get(node.name)
        return _KIND[var.type] if var is not None else None
    if isinstance(node, Not | BoolOp):
        operands = [node.operand] if isinstance(node, Not) else list(node.items)
        word = "not" if isinstance(node, Not) else node.op
        for item in operands:
            kind = _infer(item, variables, problems)
            if kind not in (None, "bool"):
                problems.append(
                    f"`{word}` needs true/false operands but {_describe(item)} is a {kind}"
                )
        return "bool"
    left = _infer(node.left, variables, problems)
    right = _infer(node.right, variables, problems)
    if left is None or right is None:
        return "bool"
    if node.op in ("==", "!="):
        if left != right:
            problems.append(f"`{node.op}` compares a {left} with a {right}")
        else:
            _check_values(node, variables, problems)
    elif left != "number" or right != "number":
        problems.append(f"`{node.op}` orders numbers only, got a {left} and a {right}")
    return "bool"


def _check_values(node: Compare, variables: Mapping[str, ContextVar], problems: list[str]) -> None:
    """`kind == 'x'` where `kind` lists its allowed values: 'x' must be one of them."""
    for var_node, lit_node in ((node.left, node.right), (node.right, node.left)):
        if not (isinstance(var_node, Var) and isinstance(lit_node, Lit)):
            continue
        allowed = variables[var_node.name].values
        if allowed and lit_node.value not in allowed:
            problems.append(
                f"{lit_node.value!r} is not a value of {var_node.name!r}"
                f"{suggest(str(lit_node.value), allowed)}; allowed: {', '.join(allowed)}"
            )


def _describe(node: Node) -> str:
    if isinstance(node, Var):
        return f"`{node.name}`"
    if isinstance(node, Lit):
        return f"`{node.value!r}`"
    return "an operand"
