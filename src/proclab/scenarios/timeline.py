"""When each event of a trace happens: the day (in working days after the first event's) and
the clock time, from the steps' `StepTiming` and the scenes the procedure and its context
values allow (`Scene`). Also the words that tell a day change, and how the round trip reads
them back (`read_day_shift`), so that rendering and reading agree by construction.

Times follow the trace order: an event starts its step's delay after the previous event ended
(the previous step's `lasts_min`, if any), or, when its step says so (`days_later`), on a later
working morning. Delays, day jumps and mornings are keyed by step id, so swapping two events of
a counterfactual pair moves only their own times: everything after the pair keeps its clock.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from proclab.procedures.schema import Procedure, Scene, StepTiming
from proclab.scenarios.keyed import Keyed
from proclab.scenarios.types import RenderError

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DEFAULT_DAYS = tuple(range(5))  # a working day
DEFAULT_START = (7 * 60, 15 * 60)  # the first event's clock time, inclusive
DEFAULT_DELAY = (3, 14)  # minutes between consecutive events
MORNING = (8 * 60 + 30, 10 * 60)  # when a later working day's first event happens
LATEST = 23 * 60 + 50  # no event of a day after this: a story does not cross midnight
_NUMBERS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
            "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
            "seventeen", "eighteen", "nineteen", "twenty")
_LATER = re.compile(r"\b([a-z]+|\d+) working days later\b", re.IGNORECASE)
_NEXT = re.compile(r"\bnext working day\b", re.IGNORECASE)
_FIRST = re.compile(r"\bfirst day\b", re.IGNORECASE)


@dataclass(frozen=True)
class SceneWindow:
    """Allowed weekdays (0 = Monday) and first-event window (minutes after midnight)."""

    days: tuple[int, ...]
    start: tuple[int, int]


@dataclass(frozen=True)
class Timeline:
    """Day (working days after the first event's) and clock minute of each event, in trace
    order; the first event's weekday; where an out-of-order telling starts (0: in order)."""

    days: list[int]
    minutes: list[int]
    weekday0: int
    rotation: int

    def weekday(self, day: int) -> str:
        return WEEKDAYS[weekday_after(self.weekday0, day)]

    @property
    def order(self) -> list[int]:
        """Event indices in the order they are told."""
        n, rot = len(self.minutes), self.rotation
        return [*range(rot, n), *range(rot)]


def _clock_minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def resolve_scene(procedure: Procedure, context: Mapping[str, object]) -> SceneWindow:
    """The scene a scenario must respect. Scenes of the context values in play override the
    procedure's (an after-hours value moves a daytime procedure to the evening), field by
    field; several value scenes must agree (their windows and day lists intersect)."""
    scenes: list[Scene] = []
    for name, var in procedure.context.items():
        entry = var.narration_for(context.get(name, var.default))  # type: ignore[arg-type]
        if entry is not None and entry.scene is not None:
            scenes.append(entry.scene)
    days = _merge([s.days for s in scenes], procedure.scene and procedure.scene.days)
    starts = [s.start for s in scenes]
    start = _merge_windows(starts, procedure.scene and procedure.scene.start)
    day_ids = tuple(WEEKDAYS.index(d) for d in days) if days else DEFAULT_DAYS
    window = (_clock_minutes(start[0]), _clock_minutes(start[1])) if start else DEFAULT_START
    if not day_ids or window[0] > window[1]:
        raise RenderError(
            "the scenes of this context contradict each other (no day or start time fits all)",
            where=f"procedure {procedure.id}",
            fix="make the `scene` of values that can hold together overlap",
        )
    return SceneWindow(day_ids, window)


def _merge(values: list[list[str] | None], fallback: list[str] | None) -> list[str] | None:
    given = [v for v in values if v is not None]
    if not given:
        return fallback
    return [d for d in WEEKDAYS if all(d in v for v in given)]


def _merge_windows(values: list[tuple[str, str] | None],
                   fallback: tuple[str, str] | None) -> tuple[str, str] | None:
    given = [v for v in values if v is not None]
    if not given:
        return fallback
    return max(v[0] for v in given), min(v[1] for v in given)


def weekday_after(weekday: int, working_days: int) -> int:
    """The weekday `working_days` working days after `weekday` (a weekend start counts on)."""
    for _ in range(working_days):
        weekday = (weekday + 1) % 7
        while weekday >= 5:
            weekday = (weekday + 1) % 7
    return weekday


def plan_timeline(
    keys: Sequence[str],
    timings: Sequence[StepTiming | None],
    window: SceneWindow,
    keyed: Keyed,
    *,
    shuffle: bool,
) -> Timeline:
    """Times of the events whose keys (step ids; unique) and timings are given in trace order.
    A RenderError when the first day cannot start inside the scene's window without running
    past midnight, or a later day runs past it."""
    n = len(keys)
    gaps, delays, mornings = [], [], []
    for key, timing in zip(keys, timings, strict=True):
        span = timing.days_later if timing and timing.days_later else (0, 0)
        delay = timing.delay_min if timing and timing.delay_min else DEFAULT_DELAY
        gaps.append(keyed.randint(f"gap:{key}", *span))
        delays.append(max(1, keyed.randint(f"delay:{key}", *delay)))  # never two at one time
        mornings.append(keyed.randint(f"morning:{key}", MORNING[0] // 5, MORNING[1] // 5) * 5)
    lasts = [timing.lasts_min if timing and timing.lasts_min else 0 for timing in timings]
    first_day = 0  # minutes from the first event to the last one of its day
    for i in range(1, n):
        if gaps[i]:
            break
        first_day += lasts[i - 1] + delays[i]
    days, minutes = [0] * n, [_first_clock(window, first_day, keyed)] * n
    for i in range(1, n):
        after = minutes[i - 1] + lasts[i - 1] + delays[i]
        if gaps[i]:
            # A new working morning; a process still running then (a day-long incubation)
            # pushes the event past its end.
            days[i], minutes[i] = days[i - 1] + gaps[i], max(mornings[i], after - gaps[i] * 1440)
        else:
            days[i], minutes[i] = days[i - 1], after
        if minutes[i] > LATEST:
            raise RenderError(f"the events of working day {days[i]} run past midnight",
                              fix="shorten the steps' delays or tell the later steps on a "
                              "later day (`timing.days_later`)")
    rotation = keyed.randint("rot", 1, n - 1) if shuffle and n >= 2 else 0
    return Timeline(days, minutes, keyed.pick("weekday", window.days), rotation)


def _first_clock(window: SceneWindow, first_day: int, keyed: Keyed) -> int:
    """The first event's clock time: in the window, early enough that its day's events end
    before midnight; on the 5-minute grid where the window allows."""
    lo, hi = window.start[0], min(window.start[1], LATEST - first_day)
    if hi < lo:
        raise RenderError(f"the first day's events span {first_day} minutes and cannot start "
                          "in the scene's window without running past midnight",
                          fix="widen the scene's start window or spread the steps over days")
    lo5, hi5 = -(-lo // 5), hi // 5
    return lo if hi5 < lo5 else keyed.randint("t0", lo5, hi5) * 5


def part_of_day(minute: int) -> str:
    if minute < 5 * 60 or minute >= 22 * 60:
        return "night"
    if minute < 12 * 60:
        return "morning"
    return "afternoon" if minute < 17 * 60 else "evening"


def clock(minute: int) -> str:
    """24-hour clock time: 9:05, 21:30."""
    return f"{minute // 60}:{minute % 60:02d}"


def number_word(n: int) -> str:
    return _NUMBERS[n] if n < len(_NUMBERS) else str(n)


def read_day_shift(cue: str) -> tuple[str, int] | None:
    """What a cue says about the day: ("next", n) n working days after the previous event
    told, ("first", 0) back on the first day, None for the same day."""
    if _FIRST.search(cue):
        return ("first", 0)
    if _NEXT.search(cue):
        return ("next", 1)
    match = _LATER.search(cue)
    if match:
        word = match.group(1).lower()
        if word.isdigit():
            return ("next", int(word))
        if word in _NUMBERS:
            return ("next", _NUMBERS.index(word))
    return None
