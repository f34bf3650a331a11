"""The teacher client against a real HTTP server on 127.0.0.1 with injected faults."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import Counter

import pytest
from tests.teacher.fake_server import FakeServer, fault_from_rates, serve

from proclab.errors import ProclabError
from proclab.teacher.client import ClientConfig, TeacherClient, TeacherError, dry_run

FAULT_REASON = {"429": "http_429", "500": "http_500", "503": "http_503", "slow": "timeout",
                "drop": "connection_dropped", "malformed_json": "malformed_json",
                "empty_choices": "empty_choices"}


def _config(server: FakeServer, **kw) -> ClientConfig:
    defaults = {"base_url": server.base_url, "model": "m", "api_key_env": None,
                "concurrency": 8, "timeout_s": 0.5, "backoff_base_s": 0.01,
                "backoff_max_s": 0.05, "max_retries": 2}
    return ClientConfig(**{**defaults, **kw})


def _items(n: int, prefix: str = "item") -> list[list[dict[str, str]]]:
    return [[{"role": "user", "content": f"{prefix} {i}"}] for i in range(n)]


def _run(config: ClientConfig, lists, **kw) -> tuple[list, TeacherClient]:
    async def main():
        async with TeacherClient(config) as client:
            return await client.chat_many(lists, progress=False, **kw), client

    return asyncio.run(main())


@pytest.mark.parametrize("fault", sorted(FAULT_REASON))
def test_each_fault_is_retried_then_succeeds(fault):
    with FakeServer(faults=lambda r: fault if r.attempt == 0 else None, slow_s=2.0,
                    retry_after="0.01") as server:
        results, client = _run(_config(server), _items(6))
    assert [r.content for r in results] == [f"ECHO: item {i}" for i in range(6)]
    assert all(r.ok and r.attempts == 2 and not r.cached for r in results)
    assert client.usage.retried == Counter({FAULT_REASON[fault]: 6})
    assert client.usage.requests == server.count == 12


@pytest.mark.parametrize("fault", sorted(FAULT_REASON))
def test_a_persistent_fault_fails_with_its_reason(fault):
    with FakeServer(faults=lambda r: fault, slow_s=2.0, retry_after="0.01") as server:
        results, client = _run(_config(server), _items(2))
    assert [(r.error, r.attempts, r.content) for r in results] == [(FAULT_REASON[fault], 3, "")] * 2
    assert client.usage.failures == Counter({FAULT_REASON[fault]: 2})
    assert server.count == 6


def test_truncated_reply_is_a_result_not_an_error():
    with FakeServer(faults=lambda r: "length") as server:
        results, client = _run(_config(server), _items(1, prefix="a longer question"))
    (result,) = results
    assert (result.ok, result.finish_reason, result.attempts) == (True, "length", 1)
    assert "ECHO: a longer question 0".startswith(result.content) and result.content
    assert server.count == 1


def test_other_client_errors_are_final():
    with FakeServer(faults=lambda r: "401") as server:
        results, _ = _run(_config(server, max_retries=5), _items(1))
    assert (results[0].error, results[0].attempts, server.count) == ("http_401", 1, 1)


def test_thousand_requests_with_twenty_percent_faults_all_accounted_for():
    rates = {"429": .03, "500": .03, "503": .03, "slow": .02, "drop": .03,
             "malformed_json": .03, "empty_choices": .02, "length": .01}
    doomed = {i for i in range(1000) if i % 37 == 0}

    def plan(request):
        if int(request.last_user.split()[-1]) in doomed:
            return "503"
        return fault_from_rates(rates, 7, request)

    # A generous timeout: under load, 64 connections opening at once must not time out.
    with FakeServer(faults=plan, slow_s=2.5, retry_after="0.01") as server:
        cfg = _config(server, concurrency=64, max_retries=6, timeout_s=1.5)
        results, client = _run(cfg, _items(1000))
        sent = Counter(r.last_user for r in server.requests)
    usage = client.usage
    assert len(results) == 1000
    for i, result in enumerate(results):
        if result.ok:
            assert f"ECHO: item {i}".startswith(result.content) and result.content
            assert result.content == f"ECHO: item {i}" or result.finish_reason == "length"
        else:
            assert result.error in FAULT_REASON.values()
            assert result.attempts == sent[f"item {i}"] == 7
    assert {i for i, r in enumerate(results) if r.error == "http_503"} >= doomed
    failed = Counter(r.error for r in results if not r.ok)
    assert usage.ok + sum(usage.failures.values()) == usage.items == 1000
    assert usage.failures == failed and usage.ok == sum(r.ok for r in results)
    assert usage.requests == server.count == sum(r.attempts for r in results)
    assert sum(usage.retried.values()) == server.count - 1000
    assert set(usage.retried) == set(FAULT_REASON.values())  # every fault type was exercised
    assert any(r.finish_reason == "length" for r in results)


def test_retry_after_is_honoured():
    with FakeServer(faults=lambda r: "429" if r.attempt == 0 else None,
                    retry_after="0.2") as server:
        results, _ = _run(_config(server, backoff_base_s=0.001), _items(3))
        arrivals: dict[str, list[float]] = {}
        for request in server.requests:
            arrivals.setdefault(request.last_user, []).append(request.arrived)
    assert all(r.ok and r.attempts == 2 for r in results)
    for first, second in arrivals.values():
        assert second - first >= 0.2


def test_rpm_limit_paces_requests():
    with FakeServer() as server:  # 1200 rpm = 20/s with a burst of 20: 30 requests need >= 0.5 s
        start = time.time()
        results, _ = _run(_config(server, rpm=1200, concurrency=16), _items(30))
        last = max(r.arrived for r in server.requests)
    assert all(r.ok for r in results)
    assert last - start >= 0.5


def test_cache_survives_a_new_client_and_failures_are_not_cached(tmp_path):
    doomed = "item 3"
    with FakeServer(faults=lambda r: "500" if r.last_user == doomed else None) as server:
        cfg = _config(server, cache_path=tmp_path / "teacher.sqlite")
        first, _ = _run(cfg, _items(10))
        count_after_first = server.count
        second, client = _run(cfg, _items(10))
        resent = [r.last_user for r in server.requests[count_after_first:]]
    assert count_after_first == 9 + 3
    assert resent == [doomed] * 3  # only the failed item is asked again
    assert [r.content for r in second] == [r.content for r in first]
    assert [r.cached for r in second] == [i != 3 for i in range(10)]
    assert (client.usage.cache_hits, client.usage.requests) == (9, 3)


def test_identical_requests_in_flight_are_sent_once():
    with FakeServer(latency_s=0.05) as server:
        results, client = _run(_config(server), _items(1) * 4)
    assert server.count == 1
    assert [r.cached for r in results] == [False, True, True, True]
    assert len({r.content for r in results}) == 1


def test_token_and_cost_accounting():
    with FakeServer() as server:
        results, client = _run(_config(server, price_per_mtok_in=1.0, price_per_mtok_out=2.0),
                               _items(5, prefix="a question of some length"))
    tokens_in = sum(r.prompt_tokens for r in results)
    tokens_out = sum(r.completion_tokens for r in results)
    assert tokens_in > 0 and tokens_out > 0
    assert (client.usage.prompt_tokens, client.usage.completion_tokens) == (tokens_in, tokens_out)
    assert client.usage.cost_usd == pytest.approx(tokens_in * 1e-6 + tokens_out * 2e-6)


@pytest.mark.parametrize(
    ("message", "reasoning"),
    [
        ({"content": "Final answer: COMPLIANT", "reasoning_content": "steps 1-3 hold"},
         "steps 1-3 hold"),
        ({"content": "Final answer: COMPLIANT", "reasoning": "steps 1-3 hold"}, "steps 1-3 hold"),
        ({"content": "<think>\nsteps 1-3 hold\n</think>\n\nFinal answer: COMPLIANT"},
         "steps 1-3 hold"),
    ],
    ids=["reasoning_content", "reasoning", "inline_think"],
)
def test_reasoning_is_captured(message, reasoning):
    with FakeServer(reply=lambda body: {"role": "assistant", **message}) as server:
        (result,), _ = _run(_config(server), _items(1))
    assert (result.content, result.reasoning) == ("Final answer: COMPLIANT", reasoning)


def test_serve_yields_a_working_base_url():
    with serve(faults={"500": 1.0}, seed=3) as url:
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
        cfg = ClientConfig(base_url=url, model="m", api_key_env=None, max_retries=1,
                           backoff_base_s=0.01)
        results, _ = _run(cfg, _items(1))
    assert (results[0].error, results[0].attempts) == ("http_500", 2)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_endpoint_fails_per_item_and_raises_only_in_strict_mode():
    cfg = ClientConfig(base_url=f"http://127.0.0.1:{_closed_port()}/v1", model="m",
                       api_key_env=None, backoff_base_s=0.01, max_retries=2)
    results, client = _run(cfg, _items(2))
    assert [(r.error, r.attempts) for r in results] == [("connect_error", 3)] * 2
    with pytest.raises(TeacherError, match="cannot connect") as info:
        _run(cfg, _items(2), strict=True)
    assert isinstance(info.value, ProclabError) and cfg.endpoint in info.value.render()


def test_api_key_never_leaks(tmp_path, monkeypatch, caplog, capsys):
    secret = "sk-proclab-LEAKCHECK-5e0b9c2f7a"
    monkeypatch.setenv("PROCLAB_TEST_KEY", secret)
    caplog.set_level(logging.DEBUG)  # every logger, httpx and httpcore included

    def plan(request):
        if request.last_user == "item 0":
            return "401"  # the server echoes the credential back in its error
        return "500" if request.attempt == 0 else None

    with FakeServer(faults=plan) as server:
        cfg = _config(server, api_key_env="PROCLAB_TEST_KEY", cache_path=tmp_path / "c.sqlite")
        client = TeacherClient(cfg)
        results = client.run_chat_many(_items(6), progress=True)
        with pytest.raises(TeacherError) as info:
            client.run_chat_many(_items(6), progress=True, strict=True)
        client.close()
        authorizations = {r.authorization for r in server.requests}
    assert authorizations == {f"Bearer {secret}"}  # the key was really used
    assert secret in server.requests[0].authorization
    assert results[0].error == "http_401" and "***" in (results[0].detail or "")
    outputs = [caplog.text, *capsys.readouterr(), repr(client), repr(cfg), cfg.model_dump_json(),
               repr(results), str(client.usage.to_dict()), info.value.render(),
               dry_run(_items(2), cfg)]
    outputs += [p.read_bytes().decode("latin-1") for p in tmp_path.iterdir()]  # db, -wal, -shm
    assert "invalid credential" in caplog.text  # the scrubbed detail was logged...
    for text in outputs:
        assert secret not in text  # ...but never the key
