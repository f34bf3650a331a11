"""A teacher job killed with SIGKILL and rerun pays for no completed item twice and loses none."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.teacher.fake_server import FakeServer

from proclab.teacher.cache import ResponseCache, cache_key
from proclab.teacher.client import ClientConfig, request_body

N_ITEMS = 240
CONCURRENCY = 4

# The job as a user would run it: a fresh process with the cache on disk.
JOB = """
import json, sys
from proclab.teacher.client import ClientConfig, TeacherClient
cfg = ClientConfig.model_validate_json(sys.argv[1])
client = TeacherClient(cfg)
lists = [[{"role": "user", "content": f"item {i}"}] for i in range(int(sys.argv[2]))]
results = client.run_chat_many(lists, progress=False)
client.close()
print(json.dumps({"ok": sum(r.ok for r in results), "cached": sum(r.cached for r in results)}))
"""


def _start(cfg: ClientConfig) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", JOB, cfg.model_dump_json(), str(N_ITEMS)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(predicate, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("the job made no progress in time")
        time.sleep(0.01)


def test_sigkill_midway_then_rerun(tmp_path: Path):
    with FakeServer(latency_s=0.02) as server:
        cfg = ClientConfig(base_url=server.base_url, model="m", api_key_env=None,
                           concurrency=CONCURRENCY, timeout_s=10, backoff_base_s=0.01,
                           cache_path=tmp_path / "teacher.sqlite")
        keys = {cache_key(request_body(cfg, [{"role": "user", "content": f"item {i}"}], {})): i
                for i in range(N_ITEMS)}

        job = _start(cfg)
        _wait_for(lambda: len(server.answered()) >= N_ITEMS // 3 or job.poll() is not None, 60)
        os.kill(job.pid, signal.SIGKILL)
        job.communicate(timeout=30)  # reaps it and closes its pipes
        assert job.returncode == -signal.SIGKILL  # killed, not finished
        answered_before = {r.last_user for r in server.answered()}
        cache = ResponseCache(cfg.cache_path)
        done_before = {keys[k] for k in cache}
        cache.close()
        mark = server.count

        rerun = _start(cfg)
        out, err = rerun.communicate(timeout=120)
        assert rerun.returncode == 0, err
        resent = [int(r.last_user.split()[1]) for r in server.requests[mark:]]

    assert 0 < len(done_before) < N_ITEMS
    # Nothing completed before the kill is asked again, and nothing is asked twice.
    assert not done_before & set(resent)
    assert len(resent) == len(set(resent)) == N_ITEMS - len(done_before)
    # At most the requests in flight at the kill were answered but not yet recorded.
    assert len(answered_before) - len(done_before) <= CONCURRENCY
    assert json.loads(out) == {"ok": N_ITEMS, "cached": len(done_before)}
    final = ResponseCache(cfg.cache_path)
    assert {keys[k] for k in final} == set(range(N_ITEMS))
    final.close()
