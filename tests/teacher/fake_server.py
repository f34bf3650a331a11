"""A real chat-completions HTTP server on 127.0.0.1 with injectable faults, for tests and benches.

`with serve(faults=..., latency_s=..., seed=...) as base_url:` runs it on a background thread
(its own asyncio loop, HTTP/1.1 keep-alive); `FakeServer` is the same thing with the request
log exposed. Faults (FAULTS) are chosen per request either by probability (a mapping, decided
by a hash of (seed, request body, attempt number) so the plan does not depend on arrival
order) or by a callable given each `Request`. The default reply echoes the last user message.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

# "401" answers like a careless provider that echoes the credential it was given.
FAULTS = ("429", "500", "503", "401", "slow", "drop", "malformed_json", "empty_choices", "length")
_REASONS = {200: "OK", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests",
            500: "Internal Server Error", 503: "Service Unavailable"}


@dataclass
class Request:
    """One request as the server saw it: `attempt` counts earlier requests with the same body."""

    index: int
    path: str
    authorization: str | None
    body: dict[str, Any] | None
    attempt: int
    arrived: float
    digest: str  # sha256 of the raw body
    fault: str | None = None
    answered: bool = False  # a complete response (fault or not) was written

    @property
    def last_user(self) -> str:
        messages = (self.body or {}).get("messages") or [{}]
        return str(messages[-1].get("content", ""))


FaultPlan = Mapping[str, float] | Callable[[Request], str | None] | None
Reply = Callable[[dict[str, Any]], dict[str, Any]]


def fault_from_rates(rates: Mapping[str, float], seed: int, request: Request) -> str | None:
    """Pick a fault with the given per-request probabilities, as a pure function of (seed,
    body, attempt), so that a plan is reproducible whatever order requests arrive in."""
    draw = random.Random(f"{seed}:{request.digest}:{request.attempt}").random()
    for name, p in rates.items():
        if draw < p:
            return name
        draw -= p
    return None


def echo_reply(body: dict[str, Any]) -> dict[str, Any]:
    """The default assistant message: "ECHO: <last user message>"."""
    return {"role": "assistant", "content": f"ECHO: {body['messages'][-1]['content']}"}


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


@dataclass
class FakeServer:
    """The server; use as a context manager (`base_url` is valid inside it)."""

    faults: FaultPlan = None
    latency_s: float = 0.0
    seed: int = 0
    retry_after: str = "0.05"  # the Retry-After header sent with injected 429s
    slow_s: float = 2.0  # how long a "slow" response takes (make it exceed the client timeout)
    reply: Reply = echo_reply
    requests: list[Request] = field(default_factory=list)
    base_url: str = ""

    def __post_init__(self) -> None:
        self._seen: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None

    # ---- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> FakeServer:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)

    def _run(self, ready: threading.Event) -> None:
        asyncio.run(self._main(ready))

    async def _main(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0, backlog=1024)
        port = server.sockets[0].getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}/v1"
        ready.set()
        async with server:
            await self._stop.wait()
            server.close()
            for task in asyncio.all_tasks() - {asyncio.current_task()}:
                task.cancel()

    # ---- queries ---------------------------------------------------------------------------
    @property
    def count(self) -> int:
        """Requests received so far (every attempt counts)."""
        return len(self.requests)

    def answered(self) -> list[Request]:
        """Requests whose response was completely written."""
        return [r for r in list(self.requests) if r.answered]

    # ---- protocol --------------------------------------------------------------------------
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await self._one_request(reader, writer):
                pass
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass  # the client went away mid-request; nothing to answer
        except asyncio.CancelledError:
            pass  # server shutdown; asyncio's stream callback would report it as an error
        finally:
            writer.close()

    async def _one_request(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Serve one request on a keep-alive connection; False when the connection should end."""
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {k.strip().lower(): v.strip() for k, v in
                   (line.split(":", 1) for line in lines[1:] if ":" in line)}
        raw = await reader.readexactly(int(headers.get("content-length", "0")))
        request = self._record(path, headers.get("authorization"), raw)
        if method != "POST" or not path.endswith("/chat/completions"):
            await self._write(writer, 404, json.dumps({"error": {"message": "not found"}}).encode())
        else:
            if not await self._respond(writer, request):
                return False
        request.answered = True
        return headers.get("connection", "").lower() != "close"

    def _record(self, path: str, authorization: str | None, raw: bytes) -> Request:
        try:
            body = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            body = None
        digest = hashlib.sha256(raw).hexdigest()
        with self._lock:
            attempt = self._seen[digest]
            self._seen[digest] += 1
            request = Request(len(self.requests), path, authorization, body, attempt,
                              time.time(), digest)
            request.fault = self._choose_fault(request)
            self.requests.append(request)
        return request

    def _choose_fault(self, request: Request) -> str | None:
        if self.faults is None:
            return None
        if callable(self.faults):
            return self.faults(request)
        return fault_from_rates(self.faults, self.seed, request)

    async def _respond(self, writer: asyncio.StreamWriter, request: Request) -> bool:
        """Write the (possibly faulty) response; False when the connection was dropped."""
        fault, body = request.fault, request.body or {}
        await asyncio.sleep(self.slow_s if fault == "slow" else self.latency_s)
        if fault == "drop":
            writer.transport.abort()
            return False
        if fault in ("429", "500", "503", "401"):
            extra = {"Retry-After": self.retry_after} if fault == "429" else {}
            said = f"invalid credential {request.authorization}" if fault == "401" else "injected"
            error = {"error": {"message": said, "code": int(fault)}}
            await self._write(writer, int(fault), json.dumps(error).encode(), extra)
        elif fault == "malformed_json":
            await self._write(writer, 200, b'{"id": "x", "choices": [{"message": ')
        elif fault == "empty_choices":
            await self._write(writer, 200, json.dumps({"id": "x", "choices": []}).encode())
        else:
            await self._write(writer, 200, self._completion(body, fault == "length"))
        return True

    def _completion(self, body: dict[str, Any], truncated: bool) -> bytes:
        message = self.reply(body)
        text = str(message.get("content") or "")
        if truncated:
            message = {**message, "content": text[: max(1, len(text) // 2)]}
        prompt = sum(_tokens(str(m.get("content", ""))) for m in body.get("messages", []))
        return json.dumps({
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "model": body.get("model", "fake"),
            "choices": [{"index": 0, "message": message,
                         "finish_reason": "length" if truncated else "stop"}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": _tokens(text),
                      "total_tokens": prompt + _tokens(text)},
        }).encode()

    @staticmethod
    async def _write(writer: asyncio.StreamWriter, status: int, payload: bytes,
                     extra: Mapping[str, str] | None = None) -> None:
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}",
                 "Content-Type: application/json", f"Content-Length: {len(payload)}"]
        lines += [f"{k}: {v}" for k, v in (extra or {}).items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload)
        await writer.drain()


@contextlib.contextmanager
def serve(faults: FaultPlan = None, latency_s: float = 0.0, seed: int = 0,
          **options: Any) -> Iterator[str]:
    """Run a FakeServer for the block and yield its base URL ("http://127.0.0.1:PORT/v1")."""
    with FakeServer(faults=faults, latency_s=latency_s, seed=seed, **options) as server:
        yield server.base_url


def main() -> None:
    """`python tests/teacher/fake_server.py --latency 0.2`: print the base URL, serve until
    stdin closes (so a bench can keep the server's CPU out of the client's process)."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per response")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with FakeServer(latency_s=args.latency, seed=args.seed) as server:
        print(server.base_url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
