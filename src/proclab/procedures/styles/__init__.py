"""House styles: deterministic renderers that write one procedure the way a fictional
institution writes its SOPs. `STYLES` is the registry; `render(procedure, style)` the entry point.

Every style renders any procedure of any domain, states every step with its actor, ordering,
prerequisites, guard and parent, and every exception; same input, same bytes.

Writers: `lists` (A, B, D, H), `prose` (C), `table` (E), `grouped` (F, G), `manual` (I, J), on
top of `base` (labels, layout) and `wording` (roles, ordinals, guards in English). Readers, used
by `proclab.procedures.importer`: `reading` (the same phrasings read back), `scanning` (lines to
nodes) and `structure` (nodes to step trees) - kept here so both directions change together.
"""

from __future__ import annotations

from proclab.procedures.schema import Procedure
from proclab.procedures.styles.base import Style
from proclab.procedures.styles.grouped import render_role_sections, render_step_cards
from proclab.procedures.styles.lists import (
    render_checklist,
    render_decision_list,
    render_nested_outline,
    render_terse_numbered,
)
from proclab.procedures.styles.manual import render_cms_manual, render_fda_manual
from proclab.procedures.styles.prose import render_prose_embedded
from proclab.procedures.styles.table import render_markdown_table
from proclab.registry import lookup

STYLES: dict[str, Style] = {
    s.id: s
    for s in (
        Style("terse_numbered", "Style A: terse numbered list", "lab", render_terse_numbered),
        Style("nested_outline", "Style B: nested outline", "lab", render_nested_outline),
        Style("prose_embedded", "Style C: prose with embedded steps", "lab", render_prose_embedded),
        Style("checklist", "Style D: checklist", "lab", render_checklist),
        Style("markdown_table", "Style E: Markdown table", "lab", render_markdown_table),
        Style("role_sections", "Style F: steps grouped by role", "lab", render_role_sections),
        Style("step_cards", "Style G: step cards", "lab", render_step_cards),
        Style("decision_list", "Style H: decision list", "lab", render_decision_list),
        Style(
            "fda_manual", "Manual I: FDA-like field operations manual", "manual", render_fda_manual
        ),
        Style("cms_manual", "Manual J: CMS-like processing manual", "manual", render_cms_manual),
    )
}
LAB_STYLES: tuple[str, ...] = tuple(k for k, s in STYLES.items() if s.family == "lab")
MANUAL_STYLES: tuple[str, ...] = ("fda_manual", "cms_manual")


def render(procedure: Procedure, style: str) -> str:
    """`procedure` written in house style `style` (an id from `STYLES`); unknown ids raise a
    ConfigError with a "did you mean" suggestion."""
    return lookup(STYLES, style, kind="house style").render(procedure)


__all__ = ["LAB_STYLES", "MANUAL_STYLES", "STYLES", "Style", "render"]
