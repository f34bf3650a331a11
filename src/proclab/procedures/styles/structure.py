"""Nesting the nodes the scanner found into step trees and numbering them: nodes nest by
indentation (a new marker kind at one indentation nests too, as in `1.` then `a.`), or by their
dotted labels ("4.a", "§ 4.4.1") wherever they appear; each tree is numbered the schema's way
("3", "3.b", "3.b.1"; exception-added steps "X1", "X1.a")."""

from __future__ import annotations

from proclab.procedures.styles import reading as rd
from proclab.procedures.styles.scanning import Node
from proclab.procedures.styles.wording import alpha


def _stack_parent(stack: list[Node], node: Node) -> Node | None:
    """Nesting by indentation; at equal indentation a new marker kind (1. then a.) nests."""
    while stack:
        top = stack[-1]
        if node.indent > top.indent:
            break
        if (
            node.indent == top.indent
            and node.kind != top.kind
            and not any(s.kind == node.kind and s.indent == node.indent for s in stack)
        ):
            break
        stack.pop()
    return stack[-1] if stack else None


def _label_key(path: rd.Label) -> tuple[tuple[int, int], ...]:
    def part(p: str) -> tuple[int, int]:
        if p.isdigit():
            return (0, int(p))
        return (1, sum((ord(c) - 96) * 26**i for i, c in enumerate(reversed(p))))

    return tuple(part(p) for p in path)


def build_trees(nodes: list[Node]) -> None:
    """Give every step node its parent, scope (exception), path and id."""
    steps = [n for n in nodes if not n.is_exception]
    exc_by_label = {x.label: x for x in nodes if x.is_exception and x.label}
    stack: list[Node] = []
    block = None
    for node in steps:  # relative labels: nest by indentation, within one block
        if node.block != block:
            stack, block = [], node.block
        if len(node.label) > 1:
            node.path = node.label
            while stack and stack[-1].indent > node.indent:
                stack.pop()
        else:
            parent = _stack_parent(stack, node)
            if parent is not None:
                node.parent = parent
            base = parent.path if parent is not None else ()
            node.path = (*base, *node.label) if node.label and base is not None else None
        stack.append(node)
    paths: dict[rd.Label, Node] = {}
    for node in steps:
        if node.path is not None:
            paths.setdefault(node.path, node)
    for node in steps:  # absolute labels ("4.a", "§ 4.4.1"): the parent is the prefix
        if len(node.label) > 1:
            parent = paths.get(node.label[:-1])
            if parent is not None and parent is not node:
                node.parent = parent
            elif node.label[:-1] in exc_by_label:
                node.scope = exc_by_label[node.label[:-1]]
    for node in steps:
        root = node
        while root.parent is not None:
            root = root.parent
        node.scope = root.scope
        if node.parent is not None:
            node.parent.children.append(node)
    running = 0
    for scope in [None, *(x for x in nodes if x.is_exception)]:
        roots = ordered([n for n in steps if n.parent is None and n.scope is scope])
        for i, root in enumerate(roots, start=1):
            running += scope is not None
            root.id = f"X{running}" if scope is not None else str(i)
            _number_children(root, 1)
        if scope is not None:
            scope.children = roots


def ordered(siblings: list[Node]) -> list[Node]:
    """Siblings in label order when every one carries a distinct label (role sections list
    steps out of order); document order otherwise."""
    paths = [s.path for s in siblings]
    if all(paths) and len(set(paths)) == len(paths):
        return sorted(siblings, key=lambda s: _label_key(s.path or ()))
    return siblings


def _number_children(node: Node, depth: int) -> None:
    node.children = ordered(node.children)
    for i, child in enumerate(node.children, start=1):
        child.id = f"{node.id}.{alpha(i) if depth % 2 else i}"
        _number_children(child, depth + 1)
