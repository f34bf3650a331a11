"""Teacher client units: config, request bodies, reply parsing, pacing, cache, dry run."""

from __future__ import annotations

import asyncio
import time

import pytest
from pydantic import ValidationError

from proclab.errors import ConfigError
from proclab.teacher.cache import ResponseCache, cache_key
from proclab.teacher.client import (
    ClientConfig,
    TeacherClient,
    dry_run,
    is_retryable,
    request_body,
    resolve_api_key,
)
from proclab.teacher.completion import ChatResult, parse_completion, split_think
from proclab.teacher.ratelimit import TokenBucket, backoff_delay, retry_after_s

REMOTE = "https://api.example.invalid/v1"


def _config(**kw) -> ClientConfig:
    return ClientConfig(**{"base_url": REMOTE, "model": "m", "api_key_env": None, **kw})


# ---- config and request bodies ----------------------------------------------------------------
def test_config_rejects_bad_url_unknown_field_and_reserved_extra_body():
    with pytest.raises(ValidationError, match="http"):
        _config(base_url="api.example.com/v1")
    with pytest.raises(ValidationError, match="concurency"):
        _config(concurency=4)
    with pytest.raises(ValidationError, match="messages"):
        _config(extra_body={"messages": []})


def test_endpoint_and_locality():
    assert _config(base_url="http://127.0.0.1:8000/v1/").endpoint == (
        "http://127.0.0.1:8000/v1/chat/completions")
    assert _config(base_url="http://localhost:8000/v1").is_local
    assert not _config().is_local


def test_request_body_layers_defaults_extra_body_and_call_params():
    cfg = _config(temperature=0.6, max_tokens=100, extra_body={"top_p": 0.9, "reasoning": {}})
    body = request_body(cfg, [{"role": "user", "content": "hi"}], {"max_tokens": 50, "seed": 3,
                                                                    "temperature": None})
    assert body == {"model": "m", "messages": [{"role": "user", "content": "hi"}],
                    "max_tokens": 50, "top_p": 0.9, "reasoning": {}, "seed": 3}
    with pytest.raises(ConfigError, match="model"):
        request_body(cfg, [], {"model": "other"})


def test_cache_key_is_canonical_and_parameter_sensitive():
    a = {"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": 0.5}
    b = {"temperature": 0.5, "messages": [{"content": "x", "role": "user"}], "model": "m"}
    assert cache_key(a) == cache_key(b)
    assert cache_key(a) != cache_key({**a, "temperature": 0.6})
    assert cache_key(a) != cache_key({**a, "model": "n"})


# ---- API key -----------------------------------------------------------------------------------
def test_missing_key_names_the_variable_for_remote_endpoints(monkeypatch):
    monkeypatch.delenv("PROCLAB_TEST_ABSENT_KEY", raising=False)
    cfg = _config(api_key_env="PROCLAB_TEST_ABSENT_KEY")
    with pytest.raises(ConfigError, match="PROCLAB_TEST_ABSENT_KEY is not set"):
        TeacherClient(cfg)
    local = _config(base_url="http://127.0.0.1:9/v1", api_key_env="PROCLAB_TEST_ABSENT_KEY")
    assert resolve_api_key(local) is None


def test_a_key_pasted_as_the_variable_name_is_rejected_without_echo():
    with pytest.raises(ValidationError) as info:
        _config(api_key_env="sk-or-v1-abcdef0123456789")
    assert "api_key_env" in str(info.value)
    assert "abcdef0123456789" not in str(info.value)


def test_key_is_read_from_env_and_never_in_reprs(monkeypatch):
    secret = "sk-unit-7d1c0e5f9a"
    monkeypatch.setenv("PROCLAB_TEST_KEY", secret)
    cfg = _config(api_key_env="PROCLAB_TEST_KEY")
    client = TeacherClient(cfg)
    assert resolve_api_key(cfg) == secret
    for text in (repr(client), repr(cfg), cfg.model_dump_json(), str(vars(cfg))):
        assert secret not in text


# ---- reply parsing -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "content", "reasoning"),
    [
        ("<think>weigh step 3</think>\n\nFinal answer: COMPLIANT", "Final answer: COMPLIANT",
         "weigh step 3"),
        ("template opened it</think>Final answer: NON-COMPLIANT", "Final answer: NON-COMPLIANT",
         "template opened it"),
        ("<think>a</think><think>b</think>done", "done", "a\nb"),
        ("<think>cut off while thinking", "", "cut off while thinking"),
        ("no reasoning here", "no reasoning here", None),
    ],
)
def test_split_think(text, content, reasoning):
    assert split_think(text) == (content, reasoning)


def test_parse_completion_reads_fields_usage_and_failures():
    ok = parse_completion(b'{"model": "r1", "choices": [{"finish_reason": "length", "message": '
                          b'{"content": "<think>x</think>y", "reasoning_content": "sep"}}], '
                          b'"usage": {"prompt_tokens": 11, "completion_tokens": 7}}')
    assert (ok.content, ok.reasoning, ok.finish_reason, ok.model) == ("y", "sep\n\nx", "length", "r1")
    assert (ok.prompt_tokens, ok.completion_tokens, ok.error) == (11, 7, None)
    no_usage = parse_completion(b'{"choices": [{"message": {"content": "12345678"}}]}',
                                prompt_estimate=5)
    assert (no_usage.prompt_tokens, no_usage.completion_tokens) == (5, 2)
    assert parse_completion(b'{"choices": [').error == "malformed_json"
    assert parse_completion(b'[1, 2]').error == "malformed_json"
    assert parse_completion(b'{"choices": []}').error == "empty_choices"
    bad_usage = b'{"choices": [{"message": {"content": "x"}}], "usage": {"prompt_tokens": "n/a"}}'
    assert parse_completion(bad_usage).error == "malformed_json"
    err = parse_completion(b'{"error": {"message": "upstream overloaded"}}')
    assert (err.error, err.detail) == ("provider_error", "upstream overloaded")


def test_chat_result_record_round_trip_drops_provenance():
    result = ChatResult("a", "r", "stop", 3, 4, cached=False, attempts=2, model="m")
    back = ChatResult.from_record(result.to_record(), cached=True)
    assert back == ChatResult("a", "r", "stop", 3, 4, cached=True, attempts=0, model="m")


def test_retryable_reasons():
    for reason in ("http_429", "http_500", "http_503", "http_502", "timeout", "connect_error",
                   "connection_dropped", "malformed_json", "empty_choices"):
        assert is_retryable(reason), reason
    for reason in ("http_400", "http_401", "http_404", None):
        assert not is_retryable(reason), reason


# ---- pacing ------------------------------------------------------------------------------------
def test_retry_after_forms():
    assert retry_after_s({"retry-after": "2"}) == 2.0
    assert retry_after_s({"retry-after": "0.25"}) == 0.25
    assert retry_after_s({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    date = "Wed, 21 Oct 2015 07:28:30 GMT"
    assert retry_after_s({"retry-after": date}, now=1445412500.0) == pytest.approx(10.0)
    assert retry_after_s({"retry-after": "soon"}) is None
    assert retry_after_s({}) is None


def test_backoff_grows_exponentially_with_bounded_jitter():
    import random

    rng = random.Random(0)
    for attempt, full in [(1, 1.0), (2, 2.0), (3, 4.0), (8, 10.0)]:
        for _ in range(50):
            assert full / 2 <= backoff_delay(attempt, 1.0, 10.0, rng) <= full


def test_token_bucket_spaces_acquisitions():
    async def run() -> float:
        bucket = TokenBucket(rate_per_s=100.0, capacity=1.0)
        start = time.monotonic()
        for _ in range(21):  # 1 from the full bucket, then 20 at 100/s
            await bucket.acquire()
        return time.monotonic() - start

    assert asyncio.run(run()) >= 0.19


# ---- cache and dry run -------------------------------------------------------------------------
def test_cache_persists_across_connections(tmp_path):
    path = tmp_path / "c.sqlite"
    cache = ResponseCache(path)
    cache.put("k1", "m", {"content": "a"})
    cache.close()
    again = ResponseCache(path)
    assert again.get("k1") == {"content": "a"} and again.get("k2") is None
    assert len(again) == 1 and "k1" in again


def test_cache_rejects_a_file_that_is_not_a_cache(tmp_path):
    path = tmp_path / "notes.sqlite"
    path.write_text("plain text, not a database " * 100)
    with pytest.raises(ConfigError, match="cannot open the teacher cache"):
        ResponseCache(path)


def test_dry_run_counts_tokens_cost_and_cached_requests(tmp_path, monkeypatch):
    monkeypatch.setenv("PROCLAB_TEST_KEY", "sk-dry-run-secret-42")
    cfg = _config(api_key_env="PROCLAB_TEST_KEY", cache_path=tmp_path / "c.sqlite",
                  max_tokens=100, price_per_mtok_in=2.0, price_per_mtok_out=8.0)
    lists = [[{"role": "user", "content": "x" * 400}], [{"role": "user", "content": "y" * 40}],
             [{"role": "user", "content": "z" * 4}]]
    cache = ResponseCache(cfg.cache_path)
    cache.put(cache_key(request_body(cfg, lists[2], {})), "m", {"content": "done"})
    cache.close()
    text = dry_run(lists, cfg)
    assert "endpoint: POST https://api.example.invalid/v1/chat/completions" in text
    assert "requests: 2 to send, 1 already cached" in text
    assert "estimated prompt tokens: 110" in text  # (400 + 40) / 4
    assert "at most 200 (max_tokens x requests), cost at most $0.0016" in text
    assert "$PROCLAB_TEST_KEY (set)" in text and "sk-dry-run-secret-42" not in text
    assert '"max_tokens": 100' in text
