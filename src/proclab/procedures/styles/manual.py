"""The two manual house styles: an FDA-like field operations manual (§-numbered sections) and a
CMS-like processing manual (10 - / 20 - / 30 - sections). Both open with Policy and
Responsibilities, state internal steps as system determinations, and end with definitions of
the data elements their conditions test.
"""

from __future__ import annotations

from proclab.procedures.schema import ContextVar, Procedure, Step
from proclab.procedures.styles.base import Layout, Path, Placed, PlacedException, make_layout
from proclab.procedures.styles.conventions import stand_in, statements
from proclab.procedures.styles.wording import role_name


def _var_terms(var: ContextVar) -> str:
    """ "number; default 0.2" - the type words the importer reads back."""
    kind = {"bool": "yes/no", "int": "whole number", "float": "number", "str": "text"}[var.type]
    terms = [kind]
    if var.values:
        terms.append("values: " + ", ".join(var.values))
    default = str(var.default).lower() if isinstance(var.default, bool) else str(var.default)
    terms.append(f"default {default}")
    return "; ".join(terms)


def _definitions(procedure: Procedure, label: str) -> list[str]:
    out = []
    for i, (name, var) in enumerate(sorted(procedure.context.items()), start=1):
        meaning = var.description.strip() or name.replace("_", " ").capitalize() + "."
        out.append(f"{label}{i} `{name}` ({_var_terms(var)}): {meaning}")
    return out


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _assigned(layout: Layout, role: str) -> str:
    labels = [p.label for p in layout.steps if p.step.actor == role]
    labels += [p.label for pe in layout.exceptions for p in pe.adds if p.step.actor == role]
    return ", ".join(labels) if labels else "no steps assigned; may act for lower roles"


# -- FDA-like field operations manual -----------------------------------------------------------


def _fda_label(path: Path) -> str:
    return "§ 4." + ".".join(str(n) for n in path)


def _fda_added(exception: int, path: Path, _running: int) -> str:
    return f"§ 5.{exception}." + ".".join(str(n) for n in path)


def _fda_step(layout: Layout, placed: Placed) -> str:
    step = placed.step
    body = step.text
    if step.kind == "internal" or step.observable is False:
        body = (
            "Internal determination (made within the office's systems or records; not an "
            f"observable action): {step.text}"
        )
    parts = [f"{placed.label} {body}", f"Responsible official: {role_name(step.actor)}."]
    if step.after:
        parts.append(f"This step may not begin before {layout.refs(step.after)}.")
    if step.requires:
        parts.append(f"Prerequisite: {layout.refs(step.requires)} must have been completed.")
    if step.when:
        parts.append(f"This step applies only where {layout.guard(step.when)}.")
    return " ".join(parts)


def _fda_exception(layout: Layout, pe: PlacedException) -> list[str]:
    exc = pe.exception
    parts = [f"§ 5.{pe.number} Where {layout.guard(exc.when)}: {exc.text}"]
    if exc.replaces:
        verb = "is" if len(exc.replaces) == 1 else "are"
        parts.append(f"{layout.refs(exc.replaces)} {verb} not performed.")
    if exc.forbids:
        parts.append(f"{layout.refs(exc.forbids)} must not be performed.")
    if pe.adds:
        parts.append("The following steps are added.")
    return [" ".join(parts), *(_fda_step(layout, p) for p in pe.adds)]


def render_fda_manual(procedure: Procedure) -> str:
    """Manual style I: FDA-like field manual with § sections, Policy and Responsibilities."""
    layout = make_layout(procedure, _fda_label, _fda_added)
    purpose = (
        procedure.description or f"This chapter sets out how staff carry out: {procedure.title}."
    )
    lines = [
        f"# {procedure.title}",
        "",
        "## § 1 Purpose",
        "",
        purpose,
        "",
        "## § 2 Policy",
        "",
        *(f"§ 2.{i} {s}" for i, s in enumerate(statements(procedure, "fda_manual"), 1)),
        "",
        "## § 3 Responsibilities",
        "",
        f"Authority ladder, lowest first: {'; '.join(layout.roles())}.",
        "",
    ]
    for i, role in enumerate(procedure.roles, start=1):
        lines.append(f"§ 3.{i} {_capital(role_name(role))}: {_assigned(layout, role)}.")
    lines += ["", "## § 4 Procedure", ""]
    lines += [_fda_step(layout, p) for p in layout.steps]
    if layout.exceptions:
        lines += ["", "## § 5 Exceptions", ""]
    for pe in layout.exceptions:
        lines += _fda_exception(layout, pe)
    if procedure.context:
        section = 6 if layout.exceptions else 5
        lines += ["", f"## § {section} Definitions", ""]
        lines += _definitions(procedure, f"§ {section}.")
    return "\n".join(lines) + "\n"


# -- CMS-like processing manual -----------------------------------------------------------------


def _cms_label(path: Path) -> str:
    return "30." + ".".join(str(n) for n in path)


def _cms_added(exception: int, path: Path, _running: int) -> str:
    return f"40.{exception}." + ".".join(str(n) for n in path)


def _cms_step(layout: Layout, placed: Placed) -> list[str]:
    step: Step = placed.step
    text = step.text
    if step.kind == "internal" or step.observable is False:
        text = f"System determination (internal; not an observable action): {step.text}"
    pad = "    " * (placed.depth + 1)
    lines = [
        f"{'    ' * placed.depth}{placed.label} - {text}",
        f"{pad}Performed by: {role_name(step.actor)}, or a higher role.",
    ]
    if step.after:
        lines.append(f"{pad}Sequence: must not begin before {layout.refs(step.after)}.")
    if step.requires:
        lines.append(f"{pad}Prerequisite: {layout.refs(step.requires)} must be complete.")
    if step.when:
        lines.append(f"{pad}Applies only when: {layout.guard(step.when)}.")
    return lines


def _cms_exception(layout: Layout, pe: PlacedException) -> list[str]:
    exc = pe.exception
    lines = [
        f"40.{pe.number} - Exception applies when: {layout.guard(exc.when)}",
        f"    Explanation: {exc.text}",
    ]
    if exc.replaces:
        lines.append(f"    No longer required: {layout.refs(exc.replaces)}.")
    if exc.forbids:
        lines.append(f"    Not to be performed: {layout.refs(exc.forbids)}.")
    roots = [p.label for p in pe.adds if p.parent is None]
    if roots:
        lines.append(f"    Additional requirements: {', '.join(roots)}.")
    for placed in pe.adds:
        lines += _cms_step(layout, placed)
    return lines


def render_cms_manual(procedure: Procedure) -> str:
    """Manual style J: CMS-like processing manual with numbered 10/20/30/40/50 sections."""
    layout = make_layout(procedure, _cms_label, _cms_added)
    lines = [f"# {procedure.title}", "", "## 10 - Policy", ""]
    if procedure.description:
        lines.append(procedure.description)
    policy = statements(procedure, "cms_manual", skip=("stand_in",))
    lines += [
        "The processing requirements in section 30 must be met whenever they apply.",
        *(f"10.{i} - {s}" for i, s in enumerate(policy, 1)),
        "",
        "## 20 - Responsibilities",
        "",
        f"Role hierarchy, lowest authority first: {'; '.join(layout.roles())}. "
        + stand_in("cms_manual"),
        "",
    ]
    lines += [f"- {_capital(role_name(r))}: {_assigned(layout, r)}" for r in procedure.roles]
    lines += ["", "## 30 - Processing Requirements", ""]
    for placed in layout.steps:
        lines += _cms_step(layout, placed)
    if layout.exceptions:
        lines += ["", "## 40 - Exceptions", ""]
    for pe in layout.exceptions:
        lines += _cms_exception(layout, pe)
    if procedure.context:
        lines += ["", "## 50 - Data Elements", ""]
        lines += _definitions(procedure, "50.")
    return "\n".join(lines) + "\n"
