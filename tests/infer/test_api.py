"""The API backend against a real chat-completions server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from proclab.errors import ConfigError, ErrorList
from proclab.infer.api import APIBackend
from proclab.infer.base import Backend, Generation, GenerationConfig


class _Server(ThreadingHTTPServer):
    bodies: list[dict[str, Any]]


class _Handler(BaseHTTPRequestHandler):
    """Echoes the last user message; "reject" gets a 400, "truncate" a finish_reason length."""

    server: _Server

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.bodies.append(body)
        text = body["messages"][-1]["content"]
        if text == "reject":
            self._send(400, {"error": {"message": "bad request"}})
            return
        finish = "length" if text == "truncate" else "stop"
        self._send(200, {
            "choices": [{"message": {"role": "assistant", "content": f"  ECHO: {text}\n"},
                         "finish_reason": finish}],
            "usage": {"prompt_tokens": len(text), "completion_tokens": 7},
        })

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def server() -> Iterator[_Server]:
    srv = _Server(("127.0.0.1", 0), _Handler)
    srv.bodies = []
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _url(srv: _Server) -> str:
    return f"http://127.0.0.1:{srv.server_address[1]}/v1"


def _user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def test_generates_in_order_with_greedy_params(server: _Server) -> None:
    backend = APIBackend("tiny", base_url=_url(server), api_key_env=None, concurrency=3)
    assert isinstance(backend, Backend)
    prompts = [_user(f"prompt {i}") for i in range(7)]
    out = backend.generate(prompts, GenerationConfig(max_new_tokens=33))
    assert [g.text for g in out] == [f"ECHO: prompt {i}" for i in range(7)]
    assert out[3] == Generation("ECHO: prompt 3", prompt_tokens=8, completion_tokens=7)
    assert {b["max_tokens"] for b in server.bodies} == {33}
    assert {b["temperature"] for b in server.bodies} == {0.0}
    assert all("seed" not in b and "top_p" not in b for b in server.bodies)


def test_sampling_sends_top_p_and_seed(server: _Server) -> None:
    backend = APIBackend("tiny", base_url=_url(server), api_key_env=None)
    backend.generate([_user("x")], GenerationConfig(temperature=0.7, top_p=0.9, seed=5))
    [body] = server.bodies
    assert (body["temperature"], body["top_p"], body["seed"]) == (0.7, 0.9, 5)


def test_failures_and_truncation_are_per_item(server: _Server) -> None:
    backend = APIBackend("tiny", base_url=_url(server), api_key_env=None, max_retries=0)
    out = backend.generate([_user("reject"), _user("truncate"), _user("fine")], GenerationConfig())
    assert out[0].finish_reason == "error" and out[0].text == ""
    assert out[0].error is not None and out[0].error.startswith("http_400")
    assert (out[1].finish_reason, out[1].text) == ("length", "ECHO: truncate")
    assert (out[2].finish_reason, out[2].text) == ("stop", "ECHO: fine")


def test_cache_answers_repeats_without_requests(server: _Server, tmp_path: Path) -> None:
    options = {"base_url": _url(server), "api_key_env": None, "cache_path": tmp_path / "c.sqlite"}
    first = APIBackend("tiny", **options)
    a = first.generate([_user("one"), _user("two")], GenerationConfig())
    first.close()
    second = APIBackend("tiny", **options)
    b = second.generate([_user("two"), _user("one")], GenerationConfig())
    second.close()
    assert len(server.bodies) == 2
    assert [g.text for g in b] == [a[1].text, a[0].text]


def test_async_generate(server: _Server) -> None:
    backend = APIBackend("tiny", base_url=_url(server), api_key_env=None)

    async def run() -> list[Generation]:
        try:
            return await backend.agenerate([_user("a"), _user("b")], GenerationConfig())
        finally:
            await backend.client.aclose()

    assert [g.text for g in asyncio.run(run())] == ["ECHO: a", "ECHO: b"]


def test_adapter_is_refused_with_a_fix() -> None:
    with pytest.raises(ConfigError, match="cannot load a LoRA adapter") as info:
        APIBackend("tiny", "runs/adapter", base_url="http://127.0.0.1:9/v1")
    assert "--lora-modules" in info.value.render()


def test_missing_base_url_and_bad_options() -> None:
    with pytest.raises(ConfigError, match="needs a base_url"):
        APIBackend("tiny")
    with pytest.raises(ErrorList) as info:
        APIBackend("tiny", base_url="ftp://x", concurrency=0, api_key_env=None)
    where = {e.where for e in info.value.errors}
    assert where == {"base_url", "concurrency"}
