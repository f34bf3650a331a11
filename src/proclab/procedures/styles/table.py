"""Style E: a Markdown table with columns Step | Who | Action | Conditions; parts are numbered
4.1, 4.2 under step 4; exceptions get a table of their own and so do the steps they add."""

from __future__ import annotations

from proclab.procedures.schema import Procedure
from proclab.procedures.styles.base import Layout, Path, Placed, actor, make_layout
from proclab.procedures.styles.conventions import stand_in, statements


def _dotted(path: Path) -> str:
    return ".".join(str(n) for n in path)


def _added(_exception: int, path: Path, running: int) -> str:
    return ".".join([f"X{running}", *(str(n) for n in path[1:])])


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _steps(ids: list[str], layout: Layout) -> str:
    return ("step " if len(ids) == 1 else "steps ") + layout.refs(ids)


def _conditions(layout: Layout, placed: Placed, exception: int | None) -> str:
    step = placed.step
    parts = []
    if exception is not None and placed.parent is None:
        parts.append(f"added by exception E{exception}")
    if placed.parent is not None:
        parts.append(f"part of step {placed.parent.label}")
    if step.after:
        parts.append(f"after {_steps(step.after, layout)}")
    if step.requires:
        parts.append(f"requires {_steps(step.requires, layout)} to have been completed")
    if step.when:
        parts.append(f"only if {layout.guard(step.when)}")
    if step.kind == "internal":
        parts.append("internal determination, not observable")
    return "; ".join(parts) if parts else "—"


def _row(layout: Layout, placed: Placed, exception: int | None = None) -> str:
    cells = [
        placed.label,
        actor(placed.step),
        placed.step.text,
        _conditions(layout, placed, exception),
    ]
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


_HEADER = ["| Step | Who | Action | Conditions |", "|---|---|---|---|"]


def render_markdown_table(procedure: Procedure) -> str:
    """Style E: Markdown table Step | Who | Action | Conditions."""
    layout = make_layout(procedure, _dotted, _added)
    lines = [f"# {procedure.title}", ""]
    if procedure.description:
        lines += [f"Purpose: {procedure.description}", ""]
    style = "markdown_table"
    lines += [
        f"Roles, lowest authority first: {', '.join(layout.roles())}. {stand_in(style)}",
        "",
        "## How to read the table",
        "",
        *(f"- {s}" for s in statements(procedure, style, skip=("stand_in",))),
        "",
        "## Steps",
        "",
        *_HEADER,
    ]
    lines += [_row(layout, p) for p in layout.steps]
    if not layout.exceptions:
        return "\n".join(lines) + "\n"
    lines += ["", "## Exceptions", "", "| Exception | Applies when | Effect |", "|---|---|---|"]
    for pe in layout.exceptions:
        exc = pe.exception
        effect = [exc.text.rstrip(".") + "."]
        if exc.replaces:
            effect.append(f"No longer required: {_steps(exc.replaces, layout)}.")
        if exc.forbids:
            effect.append(f"Forbidden: {_steps(exc.forbids, layout)}.")
        if pe.adds:
            roots = [p.step.id for p in pe.adds if p.parent is None]
            effect.append(f"Added: {_steps(roots, layout)}.")
        cells = [f"E{pe.number}", layout.guard(exc.when), " ".join(effect)]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    added = [(pe.number, p) for pe in layout.exceptions for p in pe.adds]
    if added:
        lines += ["", "## Steps added by exceptions", "", *_HEADER]
        lines += [_row(layout, p, number) for number, p in added]
    return "\n".join(lines) + "\n"
