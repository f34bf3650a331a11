"""Run a reproduction's stages in order, each as its own `python -m proclab` process, skipping
the ones an earlier run finished (same command, outputs present). A killed run (even SIGKILL)
is rerun with the same command: finished stages are skipped and the interrupted one continues
(`resume_args`, when its checkpoints exist) or restarts cleanly (`restart_args`).

State lives in `<out>/.repro/<stage>.json`; `<out>/repro.json` and `repro.md` sum it up.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import glob
import json
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from proclab.errors import ProclabError
from proclab.repro.config import ReproConfig, Stage

STATE_DIR = ".repro"


@dataclass
class StageRun:
    name: str
    status: str  # done | skipped
    wall_s: float
    cpu_s: float
    command: list[str]
    about: str = ""


def _die_with_parent() -> None:
    """Linux: the stage process gets SIGKILL when the runner dies, so a killed runner never
    leaves a stage running on (and writing) behind the next run's back."""
    with contextlib.suppress(OSError, AttributeError):  # not Linux: nothing to do
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _fill(args: Sequence[str], out: Path) -> list[str]:
    return [a.replace("{out}", str(out)) for a in args]


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_repro(config: ReproConfig, stages: Sequence[Stage], out: str | Path, *,
              echo: Callable[[str], None] = print, only: Sequence[str] = ()) -> list[StageRun]:
    """Run (or skip) every stage; raises ProclabError naming the stage that failed."""
    out = Path(out)
    state = out / STATE_DIR
    state.mkdir(parents=True, exist_ok=True)
    runs: list[StageRun] = []
    changed_upstream = False
    for i, stage in enumerate(stages, 1):
        argv = _fill(stage.run, out)
        file = state / f"{stage.name}.json"
        prev = _read(file)
        outputs = [Path(p) for p in _fill(stage.done_when, out)]
        finished = (prev is not None and prev.get("status") == "done"
                    and prev.get("command") == argv and all(p.exists() for p in outputs))
        head = f"[{i}/{len(stages)}] {stage.name}"
        if (finished and not changed_upstream) or (only and stage.name not in only):
            if finished:
                echo(f"{head}: finished earlier in {prev['wall_s']:.0f} s; skipped")
                runs.append(StageRun(stage.name, "skipped", prev["wall_s"], prev["cpu_s"], argv,
                                     stage.about))
            continue
        changed_upstream = changed_upstream or prev is not None
        extra: list[str] = []
        if prev is not None:
            # Interrupted (or failed) with the same command: continue from what it left when
            # `resume_when` finds it; otherwise (or when the command changed) start it over.
            same = prev.get("command") == argv and prev.get("status") != "done"
            resumable = same and stage.resume_when and glob.glob(
                _fill([stage.resume_when], out)[0])
            extra = _fill(stage.resume_args if resumable else stage.restart_args, out)
        command = [sys.executable, "-m", "proclab", *argv, *extra]
        echo(f"{head}: {' '.join(['proclab', *argv, *extra])}")
        _write(file, {"status": "started", "command": argv, "started_at": _now()})
        t0, cpu0 = time.perf_counter(), _children_cpu()
        rc = subprocess.run(command, preexec_fn=_die_with_parent).returncode
        wall, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
        if rc != 0:
            _write(file, {"status": "failed", "command": argv, "exit": rc, "finished_at": _now()})
            raise ProclabError(f"stage {stage.name} failed (exit {rc})", where=str(out),
                               fix="fix the cause and rerun the same command: finished stages "
                               "are skipped")
        missing = [str(p) for p in outputs if not p.exists()]
        if missing:
            raise ProclabError(f"stage {stage.name} finished without writing {missing[0]}",
                               where=str(out), fix="check the stage's command in the config")
        _write(file, {"status": "done", "command": argv, "wall_s": round(wall, 2),
                      "cpu_s": round(cpu, 2), "finished_at": _now()})
        runs.append(StageRun(stage.name, "done", round(wall, 2), round(cpu, 2), argv, stage.about))
    write_summary(config, runs, out)
    return runs


def write_summary(config: ReproConfig, runs: Sequence[StageRun], out: Path) -> None:
    """`repro.json` and `repro.md`: per-stage wall and CPU seconds (of the run that did each
    stage) and the total against the config's budget."""
    wall = sum(r.wall_s for r in runs)
    cpu = sum(r.cpu_s for r in runs)
    budget = config.budget_minutes
    summary = {
        "name": config.name, "finished_at": _now(), "stages": [asdict(r) for r in runs],
        "total_wall_s": round(wall, 1), "total_cpu_s": round(cpu, 1),
        "budget_minutes": budget, "within_budget": None if budget is None else wall <= budget * 60,
    }
    _write(out / "repro.json", summary)
    lines = [f"# proclab repro {config.name}", "", config.description.strip(), "",
             "| stage | wall s | CPU s | this run |", "|---|---:|---:|---|"]
    lines += [f"| {r.name} | {r.wall_s:.1f} | {r.cpu_s:.1f} | "
              f"{'ran' if r.status == 'done' else 'earlier'} |" for r in runs]
    total = f"total {wall / 60:.1f} min wall, {cpu / 60:.1f} min CPU"
    if budget is not None:
        total += f" (budget {budget:g} min: {'met' if wall <= budget * 60 else 'NOT met'})"
    lines += ["", total, ""]
    (out / "repro.md").write_text("\n".join(lines), encoding="utf-8")
