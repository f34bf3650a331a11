"""A YAML loader with bounded alias expansion, node count and nesting depth.

PyYAML's safe loader builds an alias as a shared reference, so an "alias bomb" (nested anchors,
each repeating the previous one ten times) loads in microseconds into a structure whose
expansion has billions of nodes, and the first code that walks it (line indexing, pydantic,
`json.dumps`) never returns. `BoundedLoader` counts, while composing, how many nodes the
document has once every alias is expanded (an alias costs the whole size of the node it names)
and stops at the `yaml_nodes` limit of `proclab.limits`; it also refuses recursive aliases and
nesting past `yaml_depth` (PyYAML composes recursively, so deep nesting would otherwise end
in a RecursionError). Every YAML file and option value proclab reads goes through it.
"""

from __future__ import annotations

from typing import Any

import yaml

from proclab.errors import ConfigError, ProclabError
from proclab.limits import limit, raise_hint


class BoundedLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that raises `error` (a ProclabError, not a YAMLError) once the
    expanded document passes the node or depth limit, naming `where` and the line."""

    def __init__(self, stream: str, *, where: str, error: type[ProclabError] = ConfigError):
        super().__init__(stream)
        self._where, self._error = where, error
        self._max_nodes, self._max_depth = limit("yaml_nodes"), limit("yaml_depth")
        self._sizes: dict[yaml.Node, int] = {}  # expanded size of every finished node
        self._nodes = 0
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        mark = self.peek_event().start_mark
        if self.check_event(yaml.AliasEvent):
            node = super().compose_node(parent, index)
            size = self._sizes.get(node)
            if size is None:  # the alias names a node still being composed: it contains itself
                raise self._fail("an alias refers to a node that contains it (a recursive "
                                 "structure)", mark, "write the repeated part out instead")
            self._count(size, mark)
            return node
        self._depth += 1
        if self._depth > self._max_depth:
            raise self._fail(f"nesting deeper than {self._max_depth} levels", mark,
                             f"flatten the structure, {raise_hint('yaml_depth')}")
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        self._sizes[node] = 1 + sum(self._sizes[child] for child in _children(node))
        self._count(1, mark)
        return node

    def _count(self, nodes: int, mark: yaml.Mark) -> None:
        self._nodes += nodes
        if self._nodes > self._max_nodes:
            raise self._fail(
                f"the document expands to more than {self._max_nodes:,} nodes (an alias counts "
                "as a copy of everything it names: nested anchors multiply)", mark,
                f"remove the aliases that repeat large blocks, {raise_hint('yaml_nodes')}")

    def _fail(self, what: str, mark: yaml.Mark, fix: str) -> ProclabError:
        return self._error(what, where=f"{self._where}:{mark.line + 1}", fix=fix)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return node.value
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def load_yaml(text: str, *, where: str, error: type[ProclabError] = ConfigError,
              what: str = "not valid YAML") -> Any:
    """`yaml.safe_load(text)` within the limits; syntax errors are `error`s (`what: ...`)
    naming the line."""
    cap = limit("document_bytes")
    if len(text) > cap:  # characters <= UTF-8 bytes, so this never refuses a text within it
        raise error(f"YAML text of {len(text):,} characters, over the limit of {cap:,} bytes",
                    where=where, fix=f"check the input, {raise_hint('document_bytes')}")
    loader = BoundedLoader(text, where=where, error=error)
    try:
        return loader.get_single_data()
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f"{where}:{mark.line + 1}" if mark else where
        raise error(f"{what}: {err}", where=at, fix="fix the YAML syntax there") from None
    finally:
        loader.dispose()
