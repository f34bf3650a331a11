"""Four list-shaped lab house styles: terse numbered (A), nested outline (B), checklist (D) and
decision list (H). Each numbers, tags and cross-references steps its own way."""

from __future__ import annotations

from collections.abc import Callable

from proclab.procedures.schema import Procedure, ProcedureException
from proclab.procedures.styles.base import (
    Layout,
    Path,
    Placed,
    PlacedException,
    actor,
    make_layout,
)
from proclab.procedures.styles.conventions import stand_in, statements
from proclab.procedures.styles.wording import alpha, join_words


def _compact(path: Path) -> str:
    """(4, 1, 2) -> "4a2": digits and letters alternate, no separators."""
    return "".join(str(n) if d % 2 == 0 else alpha(n) for d, n in enumerate(path))


def _added_compact(_exception: int, path: Path, running: int) -> str:
    return "X" + _compact((running, *path[1:]))


def _plural(word: str, ids: list[str]) -> str:
    return word if len(ids) == 1 else word + "s"


def _exception_refs(layout: Layout, exc: ProcedureException, fmt: Callable[[str], str]):
    """(replaced, forbidden) as label lists, empty strings when there are none."""
    return layout.refs(exc.replaces, fmt), layout.refs(exc.forbids, fmt)


# -- Style A: terse numbered list ---------------------------------------------------------------


def _terse_marker(placed: Placed) -> str:
    own = placed.path[-1]
    if placed.label.startswith("X") and placed.depth == 0:
        return f"{placed.label}."
    return (f"{own}.", f"{alpha(own)}.", f"({own})")[min(placed.depth, 2)]


def _terse_tag(layout: Layout, placed: Placed) -> str:
    step = placed.step
    parts = [actor(step)]
    if step.after:
        parts.append(f"only after {_plural('step', step.after)} {layout.refs(step.after)}")
    if step.requires:
        parts.append(f"needs {_plural('step', step.requires)} {layout.refs(step.requires)} done")
    if step.when:
        parts.append(f"only if {layout.guard(step.when)}")
    if step.kind == "internal":
        parts.append("internal")
    return "[" + "; ".join(parts) + "]"


def _terse_line(layout: Layout, placed: Placed, base: int = 0) -> str:
    pad = "   " * (placed.depth + base)
    return f"{pad}{_terse_marker(placed)} {placed.step.text} {_terse_tag(layout, placed)}"


def render_terse_numbered(procedure: Procedure) -> str:
    """Style A: terse numbered list (1. / a. / (1)), constraints in a bracketed tag."""
    layout = make_layout(procedure, _compact, _added_compact)
    lines = [procedure.title.upper()]
    if procedure.description:
        lines.append(f"Purpose: {procedure.description}")
    style = "terse_numbered"
    lines.append(f"Roles, junior to senior: {' < '.join(layout.roles())}. {stand_in(style)}")
    lines += ["", "NOTES"]
    lines += [f"- {s}" for s in statements(procedure, style, skip=("stand_in",))]
    lines += ["", "STEPS"]
    lines.extend(_terse_line(layout, p) for p in layout.steps)
    if layout.exceptions:
        lines += ["", "EXCEPTIONS"]
    for pe in layout.exceptions:
        exc = pe.exception
        lines.append(f"E{pe.number}. If {layout.guard(exc.when)}: {exc.text}")
        replaced, forbidden = _exception_refs(layout, exc, str)
        if replaced:
            lines.append(f"   Skip {_plural('step', exc.replaces)} {replaced}.")
        if forbidden:
            lines.append(f"   Do not do {_plural('step', exc.forbids)} {forbidden}.")
        if pe.adds:
            lines.append("   Add:")
            lines.extend(_terse_line(layout, p, base=1) for p in pe.adds)
    return "\n".join(lines) + "\n"


# -- Style B: nested outline --------------------------------------------------------------------


def _outline_label(path: Path) -> str:
    """(4,) -> "D", (4, 1) -> "D.1", (4, 1, 2) -> "D.1.b"."""
    parts = [alpha(path[0]).upper()]
    parts += [str(n) if d % 2 == 1 else alpha(n) for d, n in enumerate(path[1:], start=1)]
    return ".".join(parts)


def _outline_added(_exception: int, path: Path, running: int) -> str:
    rest = [str(n) if d % 2 == 1 else alpha(n) for d, n in enumerate(path[1:], start=1)]
    return ".".join([f"X{running}", *rest])


def _outline_block(layout: Layout, placed: Placed, base: int) -> list[str]:
    step = placed.step
    pad = "   " * (placed.depth + base)
    marker = placed.label.rsplit(".", 1)[-1] if placed.depth else placed.label
    lines = [f"{pad}{marker}. {step.text}", f"{pad}   - Responsible: {actor(step)}"]
    if step.kind == "internal":
        lines.append(f"{pad}   - Nature: internal determination, not an observable action")
    if step.after:
        lines.append(
            f"{pad}   - Sequence: not before {_plural('step', step.after)} "
            f"{layout.refs(step.after)}"
        )
    if step.requires:
        lines.append(
            f"{pad}   - Prerequisite: {_plural('step', step.requires)} "
            f"{layout.refs(step.requires)} completed"
        )
    if step.when:
        lines.append(f"{pad}   - Applies only if: {layout.guard(step.when)}")
    return lines


def render_nested_outline(procedure: Procedure) -> str:
    """Style B: nested outline (A. / 1. / a.) with one sub-bullet per attribute."""
    layout = make_layout(procedure, _outline_label, _outline_added)
    lines = [f"# {procedure.title}", ""]
    if procedure.description:
        lines.append(f"Purpose: {procedure.description}")
    style = "nested_outline"
    lines.append(f"Authority ladder: {' → '.join(layout.roles())}. {stand_in(style)}")
    lines += ["", "## Reading this outline", ""]
    lines += [f"- {s}" for s in statements(procedure, style, skip=("stand_in",))]
    lines += ["", "## Steps", ""]
    for placed in layout.steps:
        lines.extend(_outline_block(layout, placed, 0))
    if layout.exceptions:
        lines += ["", "## Exceptions", ""]
    for pe in layout.exceptions:
        lines.extend(_outline_exception(layout, pe))
    return "\n".join(lines) + "\n"


def _outline_exception(layout: Layout, pe: PlacedException) -> list[str]:
    exc = pe.exception
    lines = [
        f"Exception {pe.number} — applies only if {layout.guard(exc.when)}",
        f"   - Note: {exc.text}",
    ]
    replaced, forbidden = _exception_refs(layout, exc, str)
    if replaced:
        lines.append(f"   - Steps no longer required: {_plural('step', exc.replaces)} {replaced}")
    if forbidden:
        lines.append(f"   - Steps forbidden: {_plural('step', exc.forbids)} {forbidden}")
    if pe.adds:
        lines.append("   - Additional steps:")
        for placed in pe.adds:
            lines.extend(_outline_block(layout, placed, 1))
    return lines


# -- Style D: checklist -------------------------------------------------------------------------


def _paren(label: str) -> str:
    return f"({label})"


def _checklist_line(layout: Layout, placed: Placed, base: int) -> str:
    step = placed.step
    pad = "  " * (placed.depth + base)
    notes = [actor(step)]
    if step.after:
        notes.append(f"tick only after {layout.refs(step.after, _paren)}")
    if step.requires:
        ticked = "must be ticked first" if len(step.requires) == 1 else "must all be ticked first"
        notes.append(f"{layout.refs(step.requires, _paren)} {ticked}")
    if step.when:
        notes.append(f"only if {layout.guard(step.when)}")
    if step.kind == "internal":
        notes.append("internal check, nothing to observe")
    return f"{pad}- [ ] ({placed.label}) {step.text} — {' · '.join(notes)}"


def render_checklist(procedure: Procedure) -> str:
    """Style D: checklist of tick boxes, numbered (1), (4a); who and when after a dash."""
    layout = make_layout(procedure, _compact, _added_compact)
    lines = [f"# {procedure.title} — checklist", ""]
    if procedure.description:
        lines.append(f"Purpose: {procedure.description}")
    style = "checklist"
    lines.append(
        f"Who may tick (authority ladder, lowest first): {join_words(layout.roles(), 'then')}. "
        + stand_in(style)
    )
    lines += ["", "## How to use this checklist", ""]
    lines += [f"- {s}" for s in statements(procedure, style, skip=("stand_in",))]
    lines += ["", "## Items", ""]
    lines.extend(_checklist_line(layout, p, 0) for p in layout.steps)
    if layout.exceptions:
        lines += ["", "## Exceptions — check these before you start", ""]
    for pe in layout.exceptions:
        exc = pe.exception
        lines.append(f"- [ ] Exception E{pe.number}: if {layout.guard(exc.when)}")
        lines.append(f"  - Why: {exc.text}")
        replaced, forbidden = _exception_refs(layout, exc, _paren)
        if replaced:
            lines.append(f"  - Not needed: {replaced}")
        if forbidden:
            lines.append(f"  - Do not tick: {forbidden}")
        if pe.adds:
            lines.append("  - Extra items:")
            lines.extend(_checklist_line(layout, p, 1) for p in pe.adds)
    return "\n".join(lines) + "\n"


# -- Style H: decision list ---------------------------------------------------------------------


def _close(label: str) -> str:
    return f"{label})"


def _decision_line(layout: Layout, placed: Placed, base: int) -> str:
    step = placed.step
    pad = "   " * (placed.depth + base)
    conds = []
    if placed.parent is not None:
        conds.append(f"within {placed.parent.label})")
    if step.after:
        has = "has" if len(step.after) == 1 else "have"
        conds.append(f"once {layout.refs(step.after, _close)} {has} happened")
    if step.requires:
        verb = "is" if len(step.requires) == 1 else "are"
        conds.append(f"only when {layout.refs(step.requires, _close)} {verb} complete")
    if step.when:
        conds.append(f"if {layout.guard(step.when)}")
    left = "; ".join(conds) if conds else "no precondition"
    who = actor(step) + (" (internal determination)" if step.kind == "internal" else "")
    return f"{pad}{placed.label}) {left} → {who}: {step.text}"


def render_decision_list(procedure: Procedure) -> str:
    """Style H: decision list, one `N) conditions → role: action` rule per line."""
    layout = make_layout(procedure, _compact, _added_compact)
    lines = [f"{procedure.title.upper()}: DECISION LIST"]
    if procedure.description:
        lines.append(f"Purpose: {procedure.description}")
    style = "decision_list"
    lines.append(f"Roles from junior to senior: {', '.join(layout.roles())}. {stand_in(style)}")
    lines += ["", "HOW TO READ THE RULES"]
    lines += [f"- {s}" for s in statements(procedure, style, skip=("stand_in",))]
    lines += ["", "RULES"]
    lines.extend(_decision_line(layout, p, 0) for p in layout.steps)
    if layout.exceptions:
        lines += ["", "Special cases:"]
    for pe in layout.exceptions:
        exc = pe.exception
        lines.append(f"E{pe.number}) if {layout.guard(exc.when)} → exception: {exc.text}")
        replaced, forbidden = _exception_refs(layout, exc, _close)
        if replaced:
            lines.append(f"   instead of: {replaced}")
        if forbidden:
            lines.append(f"   never do: {forbidden}")
        if pe.adds:
            lines.append("   and add:")
            lines.extend(_decision_line(layout, p, 1) for p in pe.adds)
    return "\n".join(lines) + "\n"
