"""Style C: prose with embedded steps. One paragraph per top-level step, opened by an ordinal
word ("Fourth, ..."); parts are sentences opened by "In part (a) of the fourth step, ...".

Every step and every constraint starts its own sentence with a fixed opener, so a reader (and
the importer) can find the step boundaries even when a step's own text has several sentences.
"""

from __future__ import annotations

from proclab.procedures.schema import Procedure, Step
from proclab.procedures.styles.base import Layout, Path, Placed, PlacedException, make_layout
from proclab.procedures.styles.conventions import stand_in, statements
from proclab.procedures.styles.wording import (
    alpha,
    article,
    cardinal_word,
    is_imperative,
    join_words,
    lower_first,
    ordinal_word,
    role_name,
)


def _prose_label(path: Path) -> str:
    """(4,) -> "the fourth step", (4, 1) -> "part (a) of the fourth step"."""
    phrase = f"the {ordinal_word(path[0])} step"
    if len(path) > 1:
        phrase = f"part ({alpha(path[1])}) of {phrase}"
    for n in path[2:]:
        phrase = f"item {n} of {phrase}"
    return phrase


def _prose_added(_exception: int, path: Path, running: int) -> str:
    phrase = f"added step X{running}"
    if len(path) > 1:
        phrase = f"part ({alpha(path[1])}) of {phrase}"
    for n in path[2:]:
        phrase = f"item {n} of {phrase}"
    return phrase


def _doing(step: Step) -> str:
    """The step as a clause with its actor: "a student should warn ..."."""
    who = role_name(step.actor)
    if is_imperative(step.text):
        return f"{article(who)} {who} should {lower_first(step.text)}"
    return (
        f"{_sentence(lower_first(step.text))} This is the responsibility of {article(who)} {who}."
    )


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _constraints(layout: Layout, step: Step) -> list[str]:
    out = []
    if step.after:
        out.append(f"This comes only after {layout.refs(step.after)}.")
    if step.requires:
        have = "has" if len(step.requires) == 1 else "have"
        out.append(
            f"This may be done only once {layout.refs(step.requires)} {have} been completed."
        )
    if step.when:
        out.append(f"This applies only if {layout.guard(step.when)}.")
    if step.kind == "internal":
        out.append("This is an internal determination that leaves nothing to observe.")
    return out


def _opening(placed: Placed) -> str:
    if placed.parent is None and not placed.label.startswith("added"):
        return ordinal_word(placed.path[0]).capitalize() + ", "
    if placed.parent is None:  # an exception's added step, introduced by its own sentence
        return ""
    return f"In {placed.label}, "


def _step_sentences(layout: Layout, placed: Placed, among: list[Placed]) -> list[str]:
    sentences = [_sentence(_opening(placed) + _doing(placed.step))]
    sentences += _constraints(layout, placed.step)
    kids = [p for p in among if p.parent is placed]
    if kids:
        sentences.append(f"It has {cardinal_word(len(kids))} parts.")
    for kid in kids:
        sentences += _step_sentences(layout, kid, among)
    return sentences


def render_prose_embedded(procedure: Procedure) -> str:
    """Style C: prose paragraphs embedding the steps with ordinal words."""
    layout = make_layout(procedure, _prose_label, _prose_added)
    roles = layout.roles()
    out = [f"# {procedure.title}", ""]
    if procedure.description:
        out += [f"Purpose: {procedure.description}", ""]
    style = "prose_embedded"
    out += [
        f"Roles, from most junior to most senior: {join_words(roles)}. {stand_in(style)}",
        "",
        "## A note on reading this procedure",
        "",
        " ".join(statements(procedure, style, skip=("stand_in",))),
        "",
        "## The procedure",
        "",
    ]
    for placed in layout.top():
        out += [" ".join(_step_sentences(layout, placed, layout.steps)), ""]
    for pe in layout.exceptions:
        out += [" ".join(_exception_sentences(layout, pe)), ""]
    return "\n".join(out).rstrip("\n") + "\n"


def _exception_sentences(layout: Layout, pe: PlacedException) -> list[str]:
    exc = pe.exception
    sentences = [
        f"Exception {pe.number} applies when {layout.guard(exc.when)}.",
        _sentence(exc.text),
    ]
    if exc.replaces:
        verb = "is" if len(exc.replaces) == 1 else "are"
        sentences.append(
            f"Under this exception {layout.refs(exc.replaces)} {verb} no longer required."
        )
    if exc.forbids:
        sentences.append(f"Under this exception {layout.refs(exc.forbids)} must not be done.")
    for placed in pe.adds:
        if placed.parent is None:
            head = f"Under this exception there is an {placed.label}: {_doing(placed.step)}"
            sentences.append(_sentence(head))
            sentences += _constraints(layout, placed.step)
            kids = [p for p in pe.adds if p.parent is placed]
            for kid in kids:
                sentences += _step_sentences(layout, kid, pe.adds)
    return sentences
