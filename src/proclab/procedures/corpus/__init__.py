"""The bundled corpus: original procedures in `corpus/{lab_safety,fda,cms}/<id>.yaml`.

Each file lives in the folder of its domain and is named after its id, so a procedure can be
found by id without loading the others' text by hand and the folder layout cannot drift.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import get_args

from proclab.errors import ErrorList, ProcedureError, ProclabError
from proclab.procedures.loader import YAML_SUFFIXES, load_procedures
from proclab.procedures.schema import Domain, Procedure
from proclab.registry import lookup

CORPUS_DIR = Path(__file__).resolve().parent
DOMAINS: tuple[str, ...] = get_args(Domain)


def corpus_paths(domain: str | None = None) -> list[Path]:
    """Every procedure file of the corpus (or of one domain), sorted by path."""
    if domain is not None:
        lookup(dict.fromkeys(DOMAINS), domain, kind="domain")
    domains = DOMAINS if domain is None else (domain,)
    return sorted(
        f
        for d in domains
        if (CORPUS_DIR / d).is_dir()
        for f in (CORPUS_DIR / d).iterdir()
        if f.suffix in YAML_SUFFIXES and f.is_file()
    )


@lru_cache(maxsize=1)
def _load_all() -> tuple[Procedure, ...]:
    paths = corpus_paths()
    procs = load_procedures(paths)
    errors: list[ProclabError] = []
    for path, proc in zip(paths, procs, strict=True):
        if proc.domain != path.parent.name or proc.id != path.stem:
            errors.append(
                ProcedureError(
                    f"procedure {proc.id!r} (domain {proc.domain}) is filed as "
                    f"{path.parent.name}/{path.name}",
                    where=str(path),
                    fix=f"store it as corpus/{proc.domain}/{proc.id}.yaml",
                )
            )
    if errors:
        raise ErrorList(errors, what="corpus layout problems")
    return tuple(sorted(procs, key=lambda p: p.id))


def load_corpus(domain: str | None = None) -> list[Procedure]:
    """All corpus procedures (loaded and validated once per process), sorted by id; `domain`
    keeps one domain ("lab_safety", "fda" or "cms")."""
    if domain is not None:
        lookup(dict.fromkeys(DOMAINS), domain, kind="domain")
    return [p for p in _load_all() if domain is None or p.domain == domain]


def get_procedure(procedure_id: str) -> Procedure:
    """The corpus procedure with this id, or the compact view a `<id>--c<n>` id names
    (`proclab.procedures.compact`); unknown ids raise ConfigError with 'did you mean'."""
    from proclab.procedures.compact import resolve_compact

    if "--c" in procedure_id:
        found = resolve_compact(procedure_id)
        if found is not None:
            return found
    return lookup({p.id: p for p in _load_all()}, procedure_id, kind="procedure")
