"""What every house style shares: the `Style` record and a `Layout` that places each step of a
procedure under a display label, so cross-references use the style's own numbering.

Labels are positional (the third top-level step is "3" or "C" or "§ 4.3", whatever its id), so a
rendering never leaks ids that a reader could not see; exception-added steps are numbered on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from proclab.procedures.schema import Procedure, ProcedureException, Step
from proclab.procedures.styles.wording import alpha, format_guard, join_words, role_name

Renderer = Callable[[Procedure], str]
# A position: 1-based indices from the top-level step down to this one.
Path = tuple[int, ...]
MainLabeler = Callable[[Path], str]
# (exception number, position within that exception's added steps, running added-step number).
AddedLabeler = Callable[[int, Path, int], str]


@dataclass(frozen=True)
class Style:
    """One fictional institution's way of writing an SOP."""

    id: str
    name: str
    family: str  # "lab" (the eight lab-safety house styles) or "manual"
    render: Renderer


@dataclass(frozen=True)
class Placed:
    """A step at its place in a rendering."""

    step: Step
    label: str
    path: Path
    parent: Placed | None

    @property
    def depth(self) -> int:
        return len(self.path) - 1


@dataclass(frozen=True)
class PlacedException:
    exception: ProcedureException
    number: int  # 1-based
    adds: list[Placed]


@dataclass(frozen=True)
class Layout:
    procedure: Procedure
    steps: list[Placed]  # the main tree, depth first in document order
    exceptions: list[PlacedException]
    labels: dict[str, str]  # step id -> display label

    def refs(self, step_ids: Sequence[str], fmt: Callable[[str], str] = str) -> str:
        """The steps named by `step_ids` in this layout's labels, e.g. "step 2 and step 4.a"."""
        return join_words([fmt(self.labels.get(sid, sid)) for sid in step_ids])

    def guard(self, expr: str) -> str:
        return format_guard(expr, self.procedure.context)

    def roles(self) -> list[str]:
        return [role_name(r) for r in self.procedure.roles]

    def top(self) -> list[Placed]:
        return [p for p in self.steps if p.parent is None]


def children_of(placed: Placed, among: Sequence[Placed]) -> list[Placed]:
    return [p for p in among if p.parent is placed]


def make_layout(procedure: Procedure, main: MainLabeler, added: AddedLabeler) -> Layout:
    """Place every step: the main tree with `main(path)` labels, then each exception's added
    steps with `added(exception_number, path, running_number)` labels."""
    labels: dict[str, str] = {}

    def place(steps: list[Step], prefix: Path, parent: Placed | None, label: Callable[[Path], str]):
        out: list[Placed] = []
        for i, step in enumerate(steps, start=1):
            path = (*prefix, i)
            placed = Placed(step=step, label=label(path), path=path, parent=parent)
            labels[step.id] = placed.label
            out.append(placed)
            out.extend(place(step.children, path, placed, label))
        return out

    main_steps = place(procedure.steps, (), None, main)
    exceptions: list[PlacedException] = []
    running = 0
    for number, exc in enumerate(procedure.exceptions, start=1):
        adds: list[Placed] = []
        for i, step in enumerate(exc.adds, start=1):
            running += 1

            def label(path: Path, n: int = number, first: int = running, i: int = i) -> str:
                return added(n, (i, *path[1:]), first)

            adds.extend(place([step], (), None, label))
        exceptions.append(PlacedException(exception=exc, number=number, adds=adds))
    return Layout(procedure=procedure, steps=main_steps, exceptions=exceptions, labels=labels)


# -- label schemes shared by several styles ------------------------------------------------------


def dotted_alpha(path: Path, sep: str = ".") -> str:
    """(4,) -> "4", (4, 1) -> "4.a", (4, 1, 2) -> "4.a.2": digits and letters alternate."""
    return sep.join(str(n) if d % 2 == 0 else alpha(n) for d, n in enumerate(path))


def added_x(_exception: int, path: Path, running: int, sep: str = ".") -> str:
    """Exception-added steps as X1, X2 (numbered on across exceptions), children X1.a."""
    return "X" + dotted_alpha((running, *path[1:]), sep)


def layout_default(procedure: Procedure) -> Layout:
    return make_layout(procedure, dotted_alpha, added_x)


def actor(step: Step) -> str:
    return role_name(step.actor)
