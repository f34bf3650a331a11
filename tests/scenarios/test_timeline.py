"""Event times honour the steps' timings (delays, working-day jumps, durations) and the scenes
of the procedure and of the context values in play."""

from __future__ import annotations

import pytest

from proclab.procedures.schema import Procedure, StepTiming
from proclab.scenarios.keyed import Keyed
from proclab.scenarios.timeline import (
    DEFAULT_DAYS,
    DEFAULT_START,
    MORNING,
    SceneWindow,
    part_of_day,
    plan_timeline,
    read_day_shift,
    resolve_scene,
    weekday_after,
)
from proclab.scenarios.types import RenderError

DAY = SceneWindow(DEFAULT_DAYS, DEFAULT_START)
KEYS = ["1", "2", "3", "4"]


def _plan(timings, window=DAY, seed=0, shuffle=False):
    return plan_timeline(KEYS[: len(timings)], timings, window, Keyed(seed), shuffle=shuffle)


@pytest.mark.parametrize("seed", range(20))
def test_default_delays_are_three_to_fourteen_minutes_inside_the_window(seed: int) -> None:
    tl = _plan([None] * 4, seed=seed)
    assert tl.days == [0, 0, 0, 0]
    assert DEFAULT_START[0] <= tl.minutes[0] <= DEFAULT_START[1]
    assert all(3 <= b - a <= 14 for a, b in zip(tl.minutes, tl.minutes[1:], strict=False))
    assert tl.weekday0 in DEFAULT_DAYS


@pytest.mark.parametrize("seed", range(20))
def test_next_working_day_starts_a_new_morning(seed: int) -> None:
    tl = _plan([None, None, StepTiming(days_later=(1, 1)), None], seed=seed)
    assert tl.days == [0, 0, 1, 1]
    assert MORNING[0] <= tl.minutes[2] <= MORNING[1]
    assert tl.minutes[3] > tl.minutes[2]


@pytest.mark.parametrize("seed", range(20))
def test_days_later_ranges_and_delays_are_honoured(seed: int) -> None:
    tl = _plan([None, StepTiming(days_later=(2, 4)), StepTiming(delay_min=(30, 45))], seed=seed)
    assert 2 <= tl.days[1] <= 4 and tl.days[2] == tl.days[1]
    assert 30 <= tl.minutes[2] - tl.minutes[1] <= 45


@pytest.mark.parametrize("seed", range(20))
def test_a_check_of_a_finished_process_comes_after_its_end(seed: int) -> None:
    tl = _plan([None, StepTiming(lasts_min=60), None], seed=seed)
    assert tl.minutes[2] - tl.minutes[1] >= 60 + 3


def test_a_process_still_running_on_the_next_morning_pushes_the_event_past_its_end() -> None:
    late = SceneWindow(DEFAULT_DAYS, (17 * 60, 17 * 60))
    tl = _plan([StepTiming(lasts_min=20 * 60), StepTiming(days_later=(1, 1))], window=late)
    assert tl.days == [0, 1] and tl.minutes[1] >= 13 * 60  # 17:00 + 20 h = 13:00 next day


def test_a_day_that_cannot_fit_before_midnight_is_a_render_error() -> None:
    late = SceneWindow(DEFAULT_DAYS, (22 * 60, 23 * 60))
    with pytest.raises(RenderError, match="past midnight"):
        _plan([None, StepTiming(delay_min=(120, 120))], window=late)
    tl = _plan([None, StepTiming(delay_min=(50, 50))], window=late)  # starts early enough
    assert tl.minutes[1] <= 23 * 60 + 50


def test_shuffle_rotates_the_telling() -> None:
    tl = _plan([None] * 4, shuffle=True)
    assert tl.order != sorted(tl.order) and sorted(tl.order) == [0, 1, 2, 3]


def test_weekdays_count_working_days() -> None:
    assert weekday_after(4, 1) == 0  # Friday + 1 working day = Monday
    assert weekday_after(5, 1) == 0  # Saturday + 1 = Monday
    assert weekday_after(1, 3) == 4


def test_part_of_day() -> None:
    assert [part_of_day(m) for m in (8 * 60, 13 * 60, 19 * 60, 23 * 60)] == [
        "morning", "afternoon", "evening", "night"]


def test_day_cues_read_back() -> None:
    assert read_day_shift("The next working day, at 9:05,") == ("next", 1)
    assert read_day_shift("On Friday, three working days later, at 9:05,") == ("next", 3)
    assert read_day_shift("Earlier, back on the first day, at 8:10,") == ("first", 0)
    assert read_day_shift("At 9:05,") is None


def _scene_proc(spill: Procedure, proc_scene, true_scene) -> Procedure:
    data = spill.model_dump()
    data["scene"] = proc_scene
    data["context"]["substance_flammable"]["narration"]["true"]["scene"] = true_scene
    return Procedure.model_validate(data)


def test_value_scenes_override_the_procedure_scene_field_by_field(spill: Procedure) -> None:
    proc = _scene_proc(spill, {"start": ["08:00", "10:00"], "days": ["Saturday"]},
                       {"start": ["19:00", "21:00"]})
    evening = resolve_scene(proc, {"substance_flammable": True})
    assert evening == SceneWindow((5,), (19 * 60, 21 * 60))
    assert resolve_scene(proc, {"substance_flammable": False}).start == (8 * 60, 10 * 60)
    assert resolve_scene(spill, {}) == DAY


def test_contradicting_value_scenes_are_a_render_error(spill: Procedure) -> None:
    data = spill.model_dump()
    data["context"]["substance_flammable"]["narration"]["true"]["scene"] = {"start": ["19:00", "20:00"]}
    data["context"]["spill_volume_l"]["narration"]["scene"] = {"start": ["08:00", "09:00"]}
    proc = Procedure.model_validate(data)
    with pytest.raises(RenderError, match="contradict"):
        resolve_scene(proc, {"substance_flammable": True, "spill_volume_l": 0.3})
