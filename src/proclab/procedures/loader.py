"""Load procedure YAML files with line numbers, so every error names file:line and field.

The YAML is composed into nodes first (PyYAML's node API keeps each node's position), then
constructed and validated with pydantic; each ValidationError `loc` is mapped back to the line
of the nearest node. Whole-procedure checks (`validate.py`) run after the schema accepts it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pydantic
import yaml

from proclab.errors import DataError, ErrorList, ProcedureError, ProclabError
from proclab.limits import check_file_size
from proclab.procedures.schema import (
    ContextVar,
    Procedure,
    ProcedureException,
    Scene,
    Step,
    StepTiming,
    ValueNarration,
)
from proclab.procedures.trace import Context, Trace
from proclab.procedures.validate import Path_, SourceMap, format_path, validate_procedure
from proclab.registry import suggest
from proclab.yamlsafe import BoundedLoader, load_yaml

YAML_SUFFIXES = (".yaml", ".yml")


def read_text(path: Path, *, error: type[ProclabError] = ProcedureError) -> str:
    """The UTF-8 text of `path`; missing, directory, binary, undecodable and oversized
    (`proclab.limits`) files are errors."""
    if not path.exists():
        raise error("file not found", where=str(path), fix="check the path")
    if path.is_dir():
        raise error("is a directory, not a file", where=str(path), fix="name a file inside it")
    check_file_size(path, "document_bytes", error=error)
    raw = path.read_bytes()
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise error(
            f"binary file (NUL byte at offset {nul})",
            where=str(path),
            fix="give a text YAML file",
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise error(
            f"not valid UTF-8 (byte {err.start})", where=str(path), fix="save the file as UTF-8"
        ) from None


def compose_yaml(text: str, file: str) -> tuple[Any, SourceMap]:
    """Parse YAML `text` into plain data plus a map of every node's line; syntax errors and
    duplicate keys become ProcedureErrors with line and column; alias expansion and nesting
    are bounded (`proclab.yamlsafe`)."""
    loader = BoundedLoader(text, where=file, error=ProcedureError)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else file
        what = f"malformed YAML: {err.problem or err.context}"
        raise ProcedureError(
            what, where=where, fix="fix the YAML syntax at that position"
        ) from None
    except yaml.YAMLError as err:
        raise ProcedureError(
            f"malformed YAML: {err}", where=file, fix="fix the YAML syntax"
        ) from None
    finally:
        loader.dispose()
    lines: dict[Path_, int] = {}
    dupes: list[ProclabError] = []
    if node is not None:
        _index_nodes(node, (), lines, dupes, file)
    if dupes:
        raise ErrorList(dupes, what=f"{file}: duplicate keys")
    return data, SourceMap(file, lines)


def _index_nodes(
    node: yaml.Node, path: Path_, lines: dict[Path_, int], dupes: list[ProclabError], file: str
) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            sub = (*path, key)
            if key in seen:
                dupes.append(
                    ProcedureError(
                        f"key {key!r} appears twice in this mapping",
                        where=f"{file}:{key_node.start_mark.line + 1}, {format_path(sub)}",
                        fix="keep one of them (YAML would silently use the last)",
                    )
                )
            seen.add(key)
            lines[sub] = key_node.start_mark.line + 1
            _index_nodes(value_node, sub, lines, dupes, file)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index_nodes(item, (*path, i), lines, dupes, file)


def load_procedure(path: str | Path) -> Procedure:
    """Load, schema-check and validate one procedure file; raises ProcedureError (file-level
    problems) or ErrorList (every schema/validation problem of the file at once)."""
    path = Path(path)
    text = read_text(path)
    if not text.strip():
        raise ProcedureError("empty file", where=str(path), fix="write a procedure mapping")
    data, lines = compose_yaml(text, str(path))
    if data is None:
        raise ProcedureError("empty file (no YAML document)", where=str(path), fix="write one")
    if not isinstance(data, dict):
        raise ProcedureError(
            f"top level is a {type(data).__name__}, not a mapping",
            where=f"{path}:{lines.line(())}",
            fix="start the file with `id:`, `title:`, ... keys",
        )
    try:
        proc = Procedure.model_validate(data)
    except pydantic.ValidationError as err:
        errors = schema_errors(err, data, lines)
        raise ErrorList(list(errors), what=f"{path}: invalid procedure") from None
    problems = validate_procedure(proc, lines=lines)
    if problems:
        raise ErrorList(list(problems), what=f"{path}: invalid procedure")
    return proc


def load_procedures(paths_or_dirs: Iterable[str | Path]) -> list[Procedure]:
    """Load every procedure file named or found (recursively, *.yaml/*.yml) under the given
    paths, in path order; all problems of all files are raised together as one ErrorList."""
    files: list[Path] = []
    for item in paths_or_dirs:
        p = Path(item)
        if p.is_dir():
            files += sorted(f for f in p.rglob("*") if f.suffix in YAML_SUFFIXES and f.is_file())
        else:
            files.append(p)
    procs: list[Procedure] = []
    errors: list[ProclabError] = []
    where_id: dict[str, Path] = {}
    for f in files:
        try:
            proc = load_procedure(f)
        except ErrorList as err:
            errors += err.errors
            continue
        except ProclabError as err:
            errors.append(err)
            continue
        if proc.id in where_id:
            errors.append(
                ProcedureError(
                    f"procedure id {proc.id!r} is also used by {where_id[proc.id]}",
                    where=str(f),
                    fix="give each procedure its own id",
                )
            )
        where_id.setdefault(proc.id, f)
        procs.append(proc)
    if errors:
        raise ErrorList(errors, what="invalid procedure files")
    return procs


# -- pydantic errors -> file:line, field, fix -----------------------------------------------


def _present_prefix(data: Any, loc: tuple[Any, ...]) -> int:
    """How many leading `loc` parts exist in `data` (the rest name a missing key or a union
    member pydantic tried)."""
    cur = data
    for n, part in enumerate(loc):
        in_map = isinstance(cur, dict) and part in cur
        in_list = isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur)
        if not (in_map or in_list):
            return n
        cur = cur[part]
    return len(loc)


def _model_at(path: Path_) -> type[pydantic.BaseModel]:
    """The schema model that describes the mapping at `path` (for listing allowed keys)."""
    model: type[pydantic.BaseModel] = Procedure
    for prev, part in zip((None, *path), path, strict=False):
        if part in ("steps", "children", "adds"):
            model = Step
        elif part == "exceptions":
            model = ProcedureException
        elif prev == "context":
            model = ContextVar
        elif part == "timing":
            model = StepTiming
        elif part == "scene":
            model = Scene
        elif part == "narration" and model is ContextVar:
            model = ValueNarration
    return model


def _fix_for(kind: str, field: str, path: Path_, value: Any) -> str:
    if kind == "missing":
        return f"add `{field}:`"
    if kind == "extra_forbidden":
        allowed = list(_model_at(path[:-1]).model_fields)
        return f"remove `{field}` or fix its spelling{suggest(str(field), allowed)}; allowed: {', '.join(allowed)}"
    if kind == "string_type" and isinstance(value, int | float):
        return f'quote it: "{value}" (YAML reads bare numbers as numbers)'
    if kind == "literal_error":
        return "use one of the listed values"
    return "correct the value"


def schema_errors(
    err: pydantic.ValidationError, data: Any, lines: SourceMap
) -> list[ProcedureError]:
    """One ProcedureError per invalid field (union alternatives merged), in file order."""
    merged: dict[Path_, list[dict[str, Any]]] = {}
    for e in err.errors():
        loc = tuple(e["loc"])
        n = _present_prefix(data, loc)
        # a missing key is itself the field; trailing union-member names are not fields
        keep = n + 1 if e["type"] == "missing" and n < len(loc) else n
        merged.setdefault(loc[:keep], []).append(e)
    out: list[tuple[int, ProcedureError]] = []
    for path, errs in merged.items():
        e = errs[0]
        field = str(path[-1]) if path else "(top level)"
        if len(errs) > 1:
            tried = ", ".join(str(x["loc"][-1]) for x in errs)
            what = f"value {e['input']!r} matches none of the allowed types ({tried})"
        else:
            what = e["msg"]
        where = lines.where(path)
        fix = _fix_for(e["type"], field, path, e.get("input"))
        out.append((lines.line(path) or 0, ProcedureError(what, where=where, fix=fix)))
    out.sort(key=lambda pair: pair[0])
    return [pe for _, pe in out]


# -- trace files (for `proclab procedures check`) --------------------------------------------


def load_trace_file(path: str | Path) -> tuple[Trace, Context]:
    """A trace file (YAML or JSON): a list of events `{step, actor, detail}`, or a mapping
    `{events: [...], context: {...}}`. Returns the trace and the file's context (maybe {})."""
    path = Path(path)
    data = load_yaml(read_text(path, error=DataError), where=str(path), error=DataError,
                     what="malformed trace file")
    if isinstance(data, list):
        data = {"events": data}
    if not isinstance(data, dict) or "events" not in data:
        raise DataError(
            "a trace file is a list of events or a mapping with `events:`",
            where=str(path),
            fix="write `events: [{step: '1', actor: student}, ...]`",
        )
    context = data.pop("context", None) or {}
    if not isinstance(context, dict):
        raise DataError("`context` must be a mapping", where=str(path), fix="write `k: v` pairs")
    try:
        trace = Trace.model_validate(data)
    except pydantic.ValidationError as err:
        first = err.errors()[0]
        raise DataError(
            f"invalid trace: {first['msg']} ({len(err.errors())} problem(s))",
            where=f"{path}, {format_path(tuple(first['loc']))}",
            fix="each event is {step: <id or null>, actor: <role>, detail: <text>}; quote ids",
        ) from None
    return trace, context
