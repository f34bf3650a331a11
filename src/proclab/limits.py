"""Size limits on what proclab reads from users' files: the one place they are defined.

Every YAML document (procedures, traces, build / train / eval configs, signal taxonomies) and
every JSON Lines file goes through readers that enforce these, so a hostile or broken file
(an alias bomb, a 5 GB single-line "JSONL", a megabyte-long Markdown line) fails fast with a
ProclabError (exit 2) instead of hanging or exhausting memory. The defaults are far above
anything a real procedure, config or dataset record needs; each can be raised for one run with
the environment variable named in `LIMITS` (docs/limits.md lists them).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from proclab.errors import ConfigError, DataError, ProclabError

MiB = 1 << 20


@dataclass(frozen=True)
class Limit:
    default: int
    env: str
    what: str  # what is being counted, for messages


LIMITS: dict[str, Limit] = {
    # A YAML file's size in bytes: the bundled procedures are under 10 KB each.
    "document_bytes": Limit(16 * MiB, "PROCLAB_MAX_DOCUMENT_BYTES", "bytes"),
    # Nodes after expanding every alias (an alias counts as a copy of the whole node it
    # names): a 150-step procedure is about 2,000.
    "yaml_nodes": Limit(1_000_000, "PROCLAB_MAX_YAML_NODES", "nodes"),
    # Nesting of YAML collections: real procedures nest steps about 10 deep.
    "yaml_depth": Limit(100, "PROCLAB_MAX_YAML_DEPTH", "levels"),
    # Nesting of '(' and `not` in one `when` guard: real guards nest two or three.
    "guard_depth": Limit(50, "PROCLAB_MAX_GUARD_DEPTH", "levels"),
    # One JSON Lines record in bytes: dataset records are a few KB, teacher traces tens of KB.
    "jsonl_line_bytes": Limit(16 * MiB, "PROCLAB_MAX_JSONL_LINE_BYTES", "bytes"),
    # One line of a Markdown / text procedure given to the importer, in characters.
    "import_line_chars": Limit(100_000, "PROCLAB_MAX_IMPORT_LINE_CHARS", "characters"),
}


def limit(name: str) -> int:
    """The limit `name` of `LIMITS`: its environment variable when set, else the default."""
    spec = LIMITS[name]
    raw = os.environ.get(spec.env, "").strip()
    if not raw:
        return spec.default
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(f"{spec.env}={raw!r} is not a positive integer",
                          fix=f"unset it (default {spec.default:,}) or give a number of {spec.what}")
    return value


def raise_hint(name: str) -> str:
    """How to raise limit `name` for one run."""
    spec = LIMITS[name]
    return f"or raise the limit with {spec.env}=N if the input is genuine"


def check_file_size(path: Path, name: str, *, error: type[ProclabError] = ConfigError) -> None:
    """Refuse a file larger than limit `name` (bytes) before reading any of it."""
    cap = limit(name)
    size = path.stat().st_size
    if size > cap:
        raise error(f"file is {size:,} bytes, over the limit of {cap:,} bytes",
                    where=str(path), fix=f"check this is the file you meant, {raise_hint(name)}")


def jsonl_lines(path: Path, *, error: type[ProclabError] = DataError,
                skip_partial_tail: bool = False) -> Iterator[tuple[int, str]]:
    """(line number, text) of each non-blank line of a JSON Lines file, reading at most
    `jsonl_line_bytes` (+1) bytes per line, so an overlong line is an error naming file and
    line rather than a read of the whole file into memory. `skip_partial_tail` drops a last
    line with no newline (a write cut short by a kill)."""
    cap = limit("jsonl_line_bytes")
    with path.open("rb") as fh:
        lineno = 0
        while raw := fh.readline(cap + 1):
            lineno += 1
            complete = raw.endswith(b"\n")
            if len(raw) - complete > cap:
                raise error(f"line {lineno} is longer than the limit of {cap:,} bytes",
                            where=f"{path}:{lineno}",
                            fix="check the file is JSON Lines (one record per line), "
                            + raise_hint("jsonl_line_bytes"))
            if skip_partial_tail and not complete:
                return
            try:
                text = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError as err:
                raise error(f"line {lineno} is not valid UTF-8 (byte {err.start})",
                            where=f"{path}:{lineno}", fix="save the file as UTF-8") from None
            if text.strip():
                yield lineno, text
