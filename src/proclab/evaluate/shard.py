"""Data-parallel evaluation: started by `accelerate launch` (or torchrun), every process answers
its share of the samples and one merged log comes out.

    accelerate launch --multi_gpu --num_processes 8 -m proclab.cli eval run --backend hf \\
        --model Qwen/Qwen2.5-7B-Instruct --data runs/data --split heldout_procedures --out runs/e

Under WORLD_SIZE > 1 a sample (id, order) belongs to rank `sha256(id, order) mod world`, so the
split does not depend on what is already logged. Rank 0 prepares the run directory; each rank
appends to its own `samples.rank<R>.jsonl` (same fsync-per-batch writer as a single process);
at the end rank 0 folds every shard log into `samples.jsonl` in the order one process would
have written them and deletes the shard logs. A killed run leaves whole lines in each shard log,
and the next start (with any number of processes) folds them in first, so resuming skips
exactly what was answered. On GPUs each rank uses `cuda:<LOCAL_RANK>`; the barriers go
through accelerate's process group (NCCL on GPUs, gloo on CPU).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proclab.evaluate.logs import SAMPLES_FILE, SampleLog, SampleWriter, read_samples

SHARD_GLOB = "samples.rank*.jsonl"


@dataclass(frozen=True)
class Shard:
    """This process's place in a data-parallel launch (rank 0 of 1 outside one)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def owns(self, key: tuple[str, str]) -> bool:
        return owner(key, self.world) == self.rank

    def log(self, out: Path) -> Path:
        """Where this process appends its samples."""
        return out / (f"samples.rank{self.rank}.jsonl" if self.active else SAMPLES_FILE)

    def wait(self) -> None:
        """Barrier across the launch (nothing to wait for in a single process)."""
        if self.active:
            _state().wait_for_everyone()


def current_shard() -> Shard:
    """The shard of this process, from the variables torchrun / accelerate launch set."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Shard()
    shard = Shard(int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0")))
    _state()  # joins the process group now, before any rank waits on another
    _pin_device(shard)
    return shard


def owner(key: tuple[str, str], world: int) -> int:
    """The rank that answers sample `key` (stable across runs and resumptions)."""
    digest = hashlib.sha256(f"{key[0]}\0{key[1]}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % world


def merge_shards(out: Path, wanted: Sequence[tuple[str, str]]) -> int:
    """Fold every shard log in `out` into samples.jsonl (new samples in the order of `wanted`,
    samples outside it last, in shard order), then delete the shard logs. Returns how many
    samples were added."""
    shards = sorted(out.glob(SHARD_GLOB))
    if not shards:
        return 0
    have = {s.key for s in read_samples(out / SAMPLES_FILE)}
    new: dict[tuple[str, str], SampleLog] = {}
    for path in shards:
        for sample in read_samples(path):
            if sample.key not in have:
                new.setdefault(sample.key, sample)
    position = {key: i for i, key in enumerate(wanted)}
    ordered = sorted(new.values(), key=lambda s: position.get(s.key, len(position)))
    with SampleWriter(out / SAMPLES_FILE) as writer:
        writer.write(ordered)
    for path in shards:
        path.unlink()
    return len(ordered)


def mine(todo: Iterable[Any], shard: Shard) -> list[Any]:
    """The (record, order) items of `todo` this process answers."""
    return [item for item in todo if shard.owns((item[0].id, item[1]))]


class _TorchGroup:
    """torch.distributed's default group, where accelerate is not installed."""

    def wait_for_everyone(self) -> None:
        import torch.distributed as dist

        if not dist.is_initialized():
            import torch

            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        dist.barrier()


def _state() -> Any:
    try:
        from accelerate import PartialState
    except ImportError:
        group = _TorchGroup()
        group.wait_for_everyone()
        return group
    import torch

    # Without a GPU accelerate forms a multi-CPU (gloo) group only when told `cpu`.
    return PartialState(cpu=not torch.cuda.is_available())


def _pin_device(shard: Shard) -> None:
    """One GPU per rank: "cuda" in the backends then means this rank's own device."""
    try:
        import torch
    except ImportError:  # a backend without torch (openai) needs no device
        return
    if torch.cuda.is_available():
        torch.cuda.set_device(shard.local_rank % torch.cuda.device_count())
