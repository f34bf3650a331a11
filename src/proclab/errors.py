"""One error family for everything a user can fix: what went wrong, where, and how to fix it.

The CLI prints these without a traceback and exits with code 2 (`--debug` shows the traceback).
"""

from __future__ import annotations


class ProclabError(Exception):
    """A user-facing error: `what` happened, at `where` (file:line, field, ...), `fix` says how."""

    exit_code = 2

    def __init__(self, what: str, *, where: str | None = None, fix: str | None = None):
        self.what = what
        self.where = where
        self.fix = fix
        super().__init__(self.render())

    def render(self) -> str:
        head = f"{self.where}: {self.what}" if self.where else self.what
        return f"{head}\n  fix: {self.fix}" if self.fix else head


class ConfigError(ProclabError):
    """A config file or option is invalid."""


class ProcedureError(ProclabError):
    """A procedure file is malformed or inconsistent."""


class GuardSyntaxError(ProclabError):
    """A `when` guard expression does not parse."""


class DataError(ProclabError):
    """A data file (JSONL, Parquet, trace) is malformed or missing."""


class ErrorList(ProclabError):
    """Several independent problems found at once (e.g. all invalid fields of a file)."""

    def __init__(self, errors: list[ProclabError], *, what: str = "found problems"):
        self.errors = errors
        body = "\n".join(f"- {e.render()}" for e in errors)
        super().__init__(f"{what} ({len(errors)}):\n{body}")
