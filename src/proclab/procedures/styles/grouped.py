"""Two lab house styles that group steps into blocks: role sections (F), where each role's steps
sit under its own heading, and step cards (G), one card per step with fixed fields."""

from __future__ import annotations

from proclab.procedures.schema import Procedure, ProcedureException
from proclab.procedures.styles.base import (
    Layout,
    Placed,
    PlacedException,
    actor,
    dotted_alpha,
    make_layout,
)
from proclab.procedures.styles.conventions import stand_in, statements
from proclab.procedures.styles.wording import join_words, role_name


def _x(_exception: int, path: tuple[int, ...], running: int) -> str:
    return "X" + dotted_alpha((running, *path[1:]))


def _effects(layout: Layout, exc: ProcedureException) -> list[str]:
    """Sentences stating which steps an exception replaces and which it forbids."""
    out = []
    if exc.replaces:
        verb = "are" if len(exc.replaces) > 1 else "is"
        out.append(f"{layout.refs(exc.replaces, _step_ref)} {verb} no longer required.")
    if exc.forbids:
        out.append(f"{layout.refs(exc.forbids, _step_ref)} must not be done.")
    return out


def _step_ref(label: str) -> str:
    return "Step " + label


# -- Style F: steps grouped under role headings --------------------------------------------------


def _role_line(layout: Layout, placed: Placed, indent: int, show_actor: bool = False) -> str:
    step = placed.step
    head = f"Step {placed.label}"
    if show_actor:
        head += f" ({actor(step)})"
    elif placed.parent is not None:
        head += f" (part of Step {placed.parent.label})"
    parts = [f"{'  ' * indent}{head}: {step.text}"]
    if step.kind == "internal":
        parts.append("Internal determination; there is nothing to observe.")
    if step.after:
        parts.append(f"Not to be started before {layout.refs(step.after, _step_ref)}.")
    if step.requires:
        refs = layout.refs(step.requires, _step_ref)
        parts.append(f"Requires {refs} to have been completed.")
    if step.when:
        parts.append(f"Only if {layout.guard(step.when)}.")
    return " ".join(parts)


def render_role_sections(procedure: Procedure) -> str:
    """Style F: steps grouped under role headings, numbered "Step 4.a" across sections."""
    layout = make_layout(procedure, dotted_alpha, _x)
    lines = [f"# {procedure.title}", ""]
    if procedure.description:
        lines += [f"Purpose: {procedure.description}", ""]
    style = "role_sections"
    lines += [
        f"Roles, from least to most authority: {'; '.join(layout.roles())}. {stand_in(style)}",
        "",
        "## How to read these sections",
        "",
        *(f"- {s}" for s in statements(procedure, style, skip=("stand_in",))),
    ]
    for role in procedure.roles:
        mine = [p for p in layout.steps if p.step.actor == role]
        if not mine:
            continue
        heading = role_name(role)
        lines += ["", f"## {heading[:1].upper()}{heading[1:]}", ""]
        for placed in mine:
            nested = placed.parent is not None and placed.parent.step.actor == role
            lines.append(_role_line(layout, placed, placed.depth if nested else 0))
    if layout.exceptions:
        lines += ["", "## Exceptions"]
    for pe in layout.exceptions:
        lines += ["", *_role_exception(layout, pe)]
    return "\n".join(lines) + "\n"


def _role_exception(layout: Layout, pe: PlacedException) -> list[str]:
    exc = pe.exception
    lines = [f"### Exception {pe.number}: when {layout.guard(exc.when)}", exc.text]
    lines += _effects(layout, exc)
    if pe.adds:
        lines.append("Added steps:")
        lines += [_role_line(layout, p, p.depth, show_actor=True) for p in pe.adds]
    return lines


# -- Style G: step cards ------------------------------------------------------------------------


def _card_refs(layout: Layout, ids: list[str]) -> str:
    return layout.refs(ids, lambda s: "card " + s)


def _card(layout: Layout, placed: Placed, exception: int | None = None) -> list[str]:
    step = placed.step
    head = f"### Card {placed.label}"
    if exception is not None and placed.parent is None:
        head += f" (added by exception card {exception})"
    elif placed.parent is not None:
        head += f" (part of card {placed.parent.label})"
    before = "—"
    if step.requires:
        done = "must be finished" if len(step.requires) == 1 else "must all be finished"
        before = f"{_card_refs(layout, step.requires)} {done}"
    only_if = layout.guard(step.when) if step.when else "always"
    who = actor(step) + (
        " (internal determination, nothing to observe)" if step.kind == "internal" else ""
    )
    return [
        head,
        step.text,
        f"- Who: {who}",
        f"- Before: {before}",
        f"- After: {_card_refs(layout, step.after) if step.after else '—'}",
        f"- Only if: {only_if}",
        "",
    ]


def render_step_cards(procedure: Procedure) -> str:
    """Style G: one card per step with Who / Before / After / Only if fields."""
    layout = make_layout(procedure, dotted_alpha, _x)
    lines = [f"# {procedure.title} — step cards", ""]
    if procedure.description:
        lines += [f"Purpose: {procedure.description}", ""]
    lines += [
        f"Roles, lowest authority first: {join_words(layout.roles())}.",
        "",
        "## How to read the cards",
        "",
        *(f"- {s}" for s in statements(procedure, "step_cards")),
        "",
        "## Cards",
        "",
        "---",
        "",
    ]
    for placed in layout.steps:
        lines += _card(layout, placed)
    if layout.exceptions:
        lines += ["---", "", "## Exception cards", ""]
    for pe in layout.exceptions:
        exc = pe.exception
        lines += [
            f"### Exception card {pe.number}",
            f"- If: {layout.guard(exc.when)}",
            f"- What changes: {exc.text}",
        ]
        if exc.replaces:
            lines.append(f"- Cards no longer needed: {_card_refs(layout, exc.replaces)}")
        if exc.forbids:
            lines.append(f"- Cards forbidden: {_card_refs(layout, exc.forbids)}")
        roots = [p.step.id for p in pe.adds if p.parent is None]
        if roots:
            lines.append(f"- Cards added: {_card_refs(layout, roots)}")
        lines.append("")
        for placed in pe.adds:
            lines += _card(layout, placed, pe.number)
    return "\n".join(lines).rstrip("\n") + "\n"
