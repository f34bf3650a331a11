"""Teacher stage: scaffolded reasoning traces from an OpenAI-compatible endpoint or the oracle.

Client names are imported lazily so that offline parts of the stage (the oracle teacher) work
without the `teacher` extra (httpx) installed.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "ClientConfig": "proclab.teacher.client",
    "TeacherClient": "proclab.teacher.client",
    "TeacherError": "proclab.teacher.client",
    "Usage": "proclab.teacher.completion",
    "dry_run": "proclab.teacher.client",
    "ChatResult": "proclab.teacher.completion",
    "ResponseCache": "proclab.teacher.cache",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'proclab.teacher' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
