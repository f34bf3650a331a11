"""Request pacing for the teacher client: the concurrency limit (a checkout of connections),
a requests-per-minute token bucket, exponential backoff with jitter, `Retry-After` parsing."""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import importlib.util
import random
import sys
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

if importlib.util.find_spec("sniffio") is None:
    # httpcore tries `import sniffio` on every request; when it is absent (anyio 4 no longer
    # needs it) each failed import walks sys.path again, ~30% of the client's CPU per request.
    # A None entry makes that import fail at once, exactly as it would anyway.
    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]


class ConnectionSlots:
    """The concurrency limit: up to `size` single-connection httpx clients, one checked out per
    request in flight.

    Not one client with `size` connections: httpcore rescans its whole pool on every request
    event, which at 64 connections costs several times the request itself (measured: 4 ms vs
    0.8 ms of CPU per request). A checkout is O(1). Clients are created on demand and share
    one TLS context."""

    def __init__(self, size: int, headers: Mapping[str, str], timeout_s: float, trust_env: bool):
        self.size = size
        self._headers = dict(headers)
        self._timeout_s = timeout_s
        self._trust_env = trust_env
        self._tls: Any = None
        self._all: list[httpx.AsyncClient] = []
        self._free: asyncio.Queue[httpx.AsyncClient] = asyncio.Queue()

    def _new_client(self) -> httpx.AsyncClient:
        if self._tls is None:
            self._tls = httpx.create_ssl_context(trust_env=self._trust_env)
        client = httpx.AsyncClient(
            headers=self._headers, timeout=httpx.Timeout(self._timeout_s), verify=self._tls,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            trust_env=self._trust_env)
        self._all.append(client)
        return client

    @contextlib.asynccontextmanager
    async def checkout(self) -> AsyncIterator[httpx.AsyncClient]:
        """A client for one request; waits while all `size` are in use."""
        if self._free.empty() and len(self._all) < self.size:
            client = self._new_client()
        else:
            client = await self._free.get()
        try:
            yield client
        finally:
            self._free.put_nowait(client)

    async def aclose(self) -> None:
        for client in self._all:
            await client.aclose()
        self._all.clear()


class TokenBucket:
    """At most `rate_per_s` acquisitions per second on average, bursts of up to `capacity`."""

    def __init__(self, rate_per_s: float, capacity: float = 1.0):
        if rate_per_s <= 0 or capacity < 1:
            raise ValueError("rate_per_s must be > 0 and capacity >= 1")
        self.rate = rate_per_s
        self.capacity = capacity
        self._tokens = capacity
        self._stamp = time.monotonic()
        self._lock = asyncio.Lock()

    @classmethod
    def per_minute(cls, rpm: int) -> TokenBucket:
        # A burst of one second's worth keeps any 60 s window within rpm + rpm/60 requests.
        return cls(rpm / 60.0, capacity=max(1.0, rpm / 60.0))

    async def acquire(self) -> None:
        """Wait until a token is available and take it (FIFO among waiters via the lock)."""
        async with self._lock:
            while True:
                now = time.monotonic()
                self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
                self._stamp = now
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return
                await asyncio.sleep((1.0 - self._tokens) / self.rate)


def backoff_delay(attempt: int, base_s: float, max_s: float, rng: random.Random) -> float:
    """Delay before retry number `attempt` (1-based): base * 2^(attempt-1), capped, with
    "equal jitter" (uniform in [d/2, d]) so that many clients that failed together spread out."""
    delay = min(max_s, base_s * (2 ** (attempt - 1)))
    return delay / 2 + rng.uniform(0, delay / 2)


def retry_after_s(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds the server asked us to wait: `retry-after-ms`, or `Retry-After` as seconds or an
    HTTP date; None when absent or unreadable. `headers` must be case-insensitive (httpx)."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
