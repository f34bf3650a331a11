"""How each house style tells its reader the rules the checker applies (docs/semantics.md §8):
what a step with parts means, "only after" (a start) against "needs ... done" (carried out),
that numbering alone binds no order, who may stand in for whom, conditional steps, exceptions
and internal determinations.

Every style states the same rules in its own voice. `statements(procedure, style)` gives the
ones a procedure needs (a procedure without parts gets no sentence about parts), in the order
of `KEYS`; each style places them where its readers look (a notes block, a policy section).
The texts are fixed strings, so docs/semantics.md quotes each one next to the rule it states
and a test keeps the two in step.
"""

from __future__ import annotations

from proclab.procedures.schema import Procedure

# `order_parts` replaces `order` in a procedure with parts: the parts rule also orders steps.
KEYS = ("order", "order_parts", "stand_in", "after", "requires", "parts", "conditions")
KEYS += ("exceptions", "internal")

# Where the rule each statement states lives in docs/semantics.md.
RULES: dict[str, str] = {
    "order": "§4: only `order`, `prerequisite` and `hierarchy` depend on positions",
    "order_parts": "§4: only `order`, `prerequisite` and `hierarchy` depend on positions",
    "stand_in": "§4 `authority`",
    "after": "§4 `order`; `after` never reports absence",
    "requires": "§4 `prerequisite`; `requires` on a step that is not required",
    "parts": "§3 required steps; §4 `missing_step`, `hierarchy` and the block of a parent",
    "conditions": "§3 required steps; §4 constraints apply to every performed step",
    "exceptions": "§3 removed steps; §4 `exception_ignored`, `forbidden_step`, `requires`",
    "internal": "§4 non-observable steps",
}

_T = {
    "order": "Numbers name steps. They do not set the order: only the tags do.",
    "order_parts": "Numbers name steps. They do not set the order: only the tags and the "
    "lettered-parts rule do.",
    "stand_in": "A senior role may do a junior role's step; never the reverse.",
    "after": "[only after step N]: start only once step N has started. If step N is never "
    "done, that is a skipped step, not an order fault.",
    "requires": "[needs step N done]: step N is done before this step starts. Doing this step "
    "without step N is a fault, unless step N does not apply here.",
    "parts": "Lettered parts: the numbered step is an action of its own and must be done; "
    "doing its parts alone does not count. Do the parts after the step starts and before the "
    "next step outside it starts. When the step applies, so do its parts (each under its own "
    "tags).",
    "conditions": "[only if ...]: the step and its parts are required only when the condition "
    "holds. Otherwise they may be left out; doing them anyway is no fault.",
    "exceptions": "EXCEPTIONS: every one whose condition holds applies. Steps it skips or bans "
    "are not done, parts included; its added steps are required; a step that needs a skipped "
    "or banned step goes ahead without it.",
    "internal": "[internal]: a determination with nothing to observe. It never counts as "
    "skipped, and a tag tied to its timing is not checked when it is not on record.",
}
_B = {
    "order": "Letters and numbers identify steps; the sequence of the outline is not binding. "
    "A required order exists only where a step lists a Sequence or a Prerequisite.",
    "order_parts": "Letters and numbers identify steps; the sequence of the outline is not "
    "binding. A required order exists only where a step lists a Sequence or a Prerequisite, "
    "and between a step and its sub-steps.",
    "stand_in": "Each role may also carry out the steps of the roles before it, but not those "
    "of the roles after it.",
    "after": "Sequence (not before step X): the step may not be started before step X has "
    "been started, whenever both are carried out. An omitted step X is an omission, not a "
    "sequence fault.",
    "requires": "Prerequisite (step X completed): step X must have been carried out before "
    "the step is started; carrying out the step without step X is a fault unless step X "
    "does not apply in the case.",
    "parts": "Sub-steps: a step that has sub-steps is an action in its own right and must "
    "itself be carried out; its sub-steps do not stand in for it. Sub-steps are carried out "
    "after their step has started and before the next step outside it is started. A sub-step "
    "applies whenever its step does, subject to its own Applies only if.",
    "conditions": "Applies only if: the step, with its sub-steps, is required only when the "
    "condition holds; when it does not, the step may be omitted, and carrying it out is not a "
    "fault in itself.",
    "exceptions": "Exceptions: each exception whose condition holds is in force. The steps it "
    "no longer requires and the steps it forbids (sub-steps included) must not be carried "
    "out; its additional steps are required; a Prerequisite on a removed step lapses.",
    "internal": "Nature - internal determination: nothing is observable, so it is never "
    "counted as omitted, and a Sequence or Prerequisite depending on its timing goes "
    "unexamined until it is recorded.",
}
_C = {
    "order": "The ordinal words name the steps rather than fix a sequence: one step must "
    "precede another only where the text says that it comes only after, or may be done only "
    "once, that other.",
    "order_parts": "The ordinal words name the steps rather than fix a sequence: one step must "
    "precede another only where the text says that it comes only after, or may be done only "
    "once, that other, and where a step is divided into parts.",
    "stand_in": "Anyone more senior may do what this procedure asks of a more junior role, "
    "though never the other way round.",
    "after": "When a step comes only after another, it should not be begun until the other "
    "has been begun, provided both are carried out; leaving the other out altogether is an "
    "omission of that step, not a breach of sequence.",
    "requires": "When a step may be done only once another has been completed, the other must "
    "already have been carried out; to go ahead without it is a breach in itself, unless the "
    "other does not apply in the circumstances.",
    "parts": "A step said to have parts is itself something to be done, and doing its parts "
    "does not do it. The parts belong after the step has been begun and before whatever "
    "follows the step is begun, and they are called for whenever the step is, save a part "
    "with a condition of its own.",
    "conditions": "A step that applies only if some condition holds is asked for, together "
    "with its parts, only when that condition holds; otherwise it may be left undone, and "
    "doing it regardless is no breach.",
    "exceptions": "An exception applies whenever its condition holds, and more than one may "
    "apply. Under an exception, steps that are no longer required or must not be done are to "
    "be left undone, parts and all; the steps it adds are required; and a step that could be "
    "done only once a removed step was completed may go ahead without it.",
    "internal": "An internal determination leaves nothing to observe: it is never counted as "
    "left undone, and whatever depends on when it was made is not judged so long as it goes "
    "unrecorded.",
}
_D = {
    "order": "Item numbers are for reference: you may tick items in any order, except where "
    "an item says tick only after, or must be ticked first.",
    "order_parts": "Item numbers are for reference: you may tick items in any order, except "
    "where an item says tick only after, or must be ticked first, and for indented sub-items.",
    "stand_in": "Anyone higher on this list may tick an item meant for a lower role; a lower "
    "role may not tick a higher role's item.",
    "after": "Tick only after (N): start this item once (N) has been started, if you do both. "
    "Leaving (N) unticked is a missed item, not a sequence error.",
    "requires": "(N) must be ticked first: finish (N) before you start this item; ticking "
    "this item without (N) is an error unless (N) does not apply to you.",
    "parts": "Indented sub-items: the item above them is a task of its own and needs its own "
    "tick; ticking its sub-items does not tick it. Work the sub-items after starting their "
    "item and before starting the next item that is not indented under it. Sub-items apply "
    "whenever their item does, unless a sub-item has its own Only if.",
    "conditions": "Only if: the item and its sub-items are needed only when the condition is "
    "true; otherwise skip them, though ticking them anyway is not an error.",
    "exceptions": "Exceptions: go through each; every exception that is true for you applies. "
    "Leave unticked the items it marks not needed or do not tick (sub-items too); tick its "
    "extra items; an item waiting for a removed item to be ticked first can go ahead.",
    "internal": "Internal checks leave nothing to see: they never count as missed, and a "
    "tick-order note that hangs on when one was made is not checked while it is unrecorded.",
}
_E = {
    "order": "The Step column numbers steps for reference; the order of the rows is not a "
    "required sequence. Only the Conditions column orders steps (after ..., requires ...).",
    "order_parts": "The Step column numbers steps for reference; the order of the rows is not "
    "a required sequence. Only the Conditions column orders steps (after ..., requires ..., "
    "part of ...).",
    "stand_in": "Any role may perform a step assigned to a role below it, but not one "
    "assigned to a role above it.",
    "after": "after step N: the step starts after step N has started, when both are "
    "performed. If step N is not performed, this entry is not breached; the missing step N "
    "is.",
    "requires": "requires step N to have been completed: step N is performed before the step "
    "starts. Performing the step without step N breaches this entry unless step N does not "
    "apply.",
    "parts": "part of step N: rows N.1, N.2 are parts of step N. Step N is a row in its own "
    "right and must be performed; its parts do not replace it. Parts are performed after "
    "step N starts and before the next row that is not one of its parts starts, and apply "
    "whenever step N does, subject to their own only if.",
    "conditions": "only if ...: the row and its parts are required only when the condition "
    "holds; otherwise they may be left out, and performing them is not a breach in itself.",
    "exceptions": "Exceptions table: each exception whose Applies when holds is in effect. "
    "Rows it makes no longer required or forbidden (with their parts) are not performed; rows "
    "it adds are required; a requires entry naming a removed row no longer binds.",
    "internal": "internal determination, not observable: never counted as missing, and an "
    "after or requires entry hinging on its timing is not assessed until it is on record.",
}
_F = {
    "order": "Steps are grouped by who does them, not by when: neither the sections nor the "
    "step numbers give an order. A step must follow another only where it says so.",
    "order_parts": "Steps are grouped by who does them, not by when: neither the sections nor "
    "the step numbers give an order. A step must follow another only where it says so or "
    "where it is part of a step.",
    "stand_in": "Work assigned to a role may also be done by any role listed after it, never "
    "by a role listed before it.",
    "after": "Not to be started before Step N: the step begins after Step N has begun, when "
    "both are done. If Step N is never done, Step N is missing; the step itself is not out "
    "of order.",
    "requires": "Requires Step N to have been completed: Step N is done before the step "
    "begins. Doing the step without Step N is a fault of its own, unless Step N does not "
    "apply in the case.",
    "parts": "Part of Step N: Step N is itself an action that must be done; doing its parts "
    "is not doing it. Its parts are done after Step N begins and before the next step "
    "outside Step N begins, whichever section lists them, and they apply whenever Step N "
    "does, subject to any Only if of their own.",
    "conditions": "Only if: the step and its parts are needed only when the condition holds; "
    "when it does not, they may be left out, and doing them is not a fault in itself.",
    "exceptions": "Exceptions: each exception whose condition holds is in force. Steps it "
    "says are no longer required or must not be done (their parts too) are not to be done; "
    "its added steps are required; a step that requires a removed step may be done without "
    "it.",
    "internal": "Internal determination: there is nothing to observe, so it is never "
    "missing, and a Requires or Not-to-be-started-before tied to its timing is left "
    "unchecked when it is unrecorded.",
}
_G = {
    "order": "Card numbers identify cards; they do not say when to do them. Only Before and "
    "After tie one card to another.",
    "order_parts": "Card numbers identify cards; they do not say when to do them. Only "
    "Before, After and part of tie one card to another.",
    "stand_in": "Who: the least senior role allowed to do the card. Anyone more senior may do "
    "it instead; no one more junior may.",
    "after": "After: cards this card must follow. It is started once each of them has been "
    "started, if both are done; a card never done is a missing card, not a card out of "
    "turn.",
    "requires": "Before: cards that must be finished first. Each must have been done before "
    "this card is started; doing this card without one is a fault unless that card does not "
    "apply.",
    "parts": "part of card N: card N is a card in its own right and must be done; doing its "
    "part cards does not do it. Part cards are done after card N is started and before the "
    "next card outside card N is started, and apply whenever card N does, subject to their "
    "own Only if.",
    "conditions": "Only if: the condition for the card. When it is false the card (and its "
    "part cards) may be skipped, and doing it anyway is no fault; always means the card has "
    "no condition of its own.",
    "exceptions": "Exception cards: each exception card whose If is true applies. Cards no "
    "longer needed and cards forbidden (with their part cards) are not done; cards added are "
    "required; a Before naming a removed card no longer counts.",
    "internal": "internal determination, nothing to observe: such a card is never missing, "
    "and Before or After entries resting on its timing cannot be checked while it is off the "
    "record.",
}
_H = {
    "order": "Line numbers identify rules, not a sequence: a rule waits for another only if "
    "its conditions name it.",
    "order_parts": "Line numbers identify rules, not a sequence: a rule waits for another "
    "only if its conditions name it (once, only when, within).",
    "stand_in": "On each line the role after the arrow, or anyone more senior, acts; no one "
    "more junior may.",
    "after": "once N) has happened: act only after N) has begun, when N) is done at all. If "
    "N) never happens, that breaks rule N), not this one.",
    "requires": "only when N) is complete: N) must have been done before acting; acting "
    "without it breaks this rule, unless N) does not apply in the case.",
    "parts": "within N): rule N) is a step of its own and must be carried out; its inner "
    "rules do not replace it. Inner rules are carried out after N) begins and before the "
    "next rule outside N) begins, and apply whenever N) does, subject to their own if.",
    "conditions": "if ...: the rule applies only when the condition holds; otherwise it, and "
    "the rules within it, may be left out, and following it anyway breaks nothing.",
    "exceptions": "Special cases: each one whose condition holds applies. Its instead of and "
    "never do rules (with the rules within them) must not be carried out; its and add rules "
    "are required; an only when that names a removed rule lapses.",
    "internal": "(internal determination): nothing to observe, so never counted as skipped; "
    "a once or only when hanging on its timing is left open while it is unrecorded.",
}
_I = {
    "order": "Each step in § 4 is mandatory whenever it applies. Section numbers identify "
    "steps and do not of themselves prescribe a sequence; a sequence is prescribed only where "
    "a step may not begin before another or has a prerequisite.",
    "order_parts": "Each step in § 4 is mandatory whenever it applies. Section numbers "
    "identify steps and do not of themselves prescribe a sequence; a sequence is prescribed "
    "only where a step may not begin before another or has a prerequisite, and between a "
    "step and its subsidiary steps.",
    "stand_in": "A step may be performed by the responsible official named for it or by an "
    "official of higher authority, but not by an official of lower authority.",
    "after": "A step that may not begin before another step waits for that step to begin "
    "when both are performed; where the other step is not performed at all, the failure is "
    "the omission of that step, not a fault of sequence.",
    "requires": "A prerequisite must have been completed before the dependent step begins; "
    "performing the dependent step without its prerequisite is a deviation unless the "
    "prerequisite does not apply in the case.",
    "parts": "A step with subsidiary steps (§ 4.n.1, § 4.n.2) is itself a step to be "
    "performed and is not performed by its subsidiary steps alone. Subsidiary steps are "
    "performed after the step begins and before the next step outside it begins, and apply "
    "whenever the step applies, subject to any condition of their own.",
    "conditions": "A step that applies only where a condition holds is mandatory only where "
    "it holds, together with its subsidiary steps; elsewhere it may be omitted, and "
    "performing it is not in itself a deviation.",
    "exceptions": "Each exception in § 5 whose condition holds applies. Steps it states are "
    "not performed or must not be performed, with their subsidiary steps, are not to be "
    "performed; the steps it adds are mandatory; a prerequisite that an exception removes no "
    "longer binds its dependent steps.",
    "internal": "Internal determinations are made within the office's systems or records; "
    "they are not observable actions. Such a determination is never recorded as omitted, and "
    "a sequence or prerequisite that turns on its timing is not assessed while it is "
    "unrecorded.",
}
_J = {
    "order": "Requirement numbers are references, not a processing sequence; sequence is "
    "mandated only by a Sequence or Prerequisite line.",
    "order_parts": "Requirement numbers are references, not a processing sequence; sequence "
    "is mandated only by a Sequence or Prerequisite line and by the nesting of subordinate "
    "requirements.",
    "stand_in": "A requirement assigned to a role may be met by a higher role, but not by a "
    "lower one.",
    "after": "Sequence (must not begin before): processing of the requirement begins after "
    "the named requirement has begun, when both are processed. A named requirement never "
    "processed is a missed requirement, not a sequence error.",
    "requires": "Prerequisite (must be complete): the named requirement is met before "
    "processing of this one begins; processing without it is an error unless the named "
    "requirement does not apply in the case.",
    "parts": "Subordinate requirements (30.n.1, 30.n.2): the parent requirement must itself "
    "be met; meeting its subordinate requirements does not meet it. Subordinate requirements "
    "are processed after the parent begins and before the next requirement outside the "
    "parent begins, and apply whenever the parent applies, subject to their own Applies only "
    "when.",
    "conditions": "Applies only when: the requirement, with its subordinate requirements, "
    "must be met only when the condition holds; otherwise it may be omitted, and meeting it "
    "anyway is not an error.",
    "exceptions": "Section 40: every exception whose condition holds applies. Requirements it "
    "lists as no longer required or not to be performed, with their subordinate "
    "requirements, are not processed; its additional requirements must be met; a "
    "Prerequisite naming a removed requirement lapses.",
    "internal": "Requirements shown as system determinations are made by the processing "
    "system and leave no observable action: they are never reported as missed, and a "
    "Sequence or Prerequisite keyed to their timing waits until they are recorded.",
}

WORDING: dict[str, dict[str, str]] = {
    "terse_numbered": _T,
    "nested_outline": _B,
    "prose_embedded": _C,
    "checklist": _D,
    "markdown_table": _E,
    "role_sections": _F,
    "step_cards": _G,
    "decision_list": _H,
    "fda_manual": _I,
    "cms_manual": _J,
}


def needed(procedure: Procedure) -> tuple[str, ...]:
    """The conventions `procedure` needs stated, in `KEYS` order."""
    steps = list(procedure.all_steps())
    has_parts = any(s.children for s in steps)
    wanted = {
        "order": not has_parts,
        "order_parts": has_parts,
        "stand_in": True,
        "after": any(s.after for s in steps),
        "requires": any(s.requires for s in steps),
        "parts": has_parts,
        "conditions": any(s.when for s in steps),
        "exceptions": bool(procedure.exceptions),
        "internal": any(s.kind == "internal" or not s.is_observable for s in steps),
    }
    return tuple(k for k in KEYS if wanted[k])


def statements(procedure: Procedure, style: str, *, skip: tuple[str, ...] = ()) -> list[str]:
    """The style's statements of the conventions `procedure` needs, minus `skip` (those the
    style places elsewhere, such as the stand-in rule on its role-ladder line)."""
    wording = WORDING[style]
    return [wording[k] for k in needed(procedure) if k not in skip]


def stand_in(style: str) -> str:
    return WORDING[style]["stand_in"]
