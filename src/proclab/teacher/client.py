"""The teacher client: any OpenAI-compatible chat-completions endpoint, over httpx (async).

Bounded concurrency (a checkout of `concurrency` keep-alive connections), an optional
requests-per-minute token bucket, retries with exponential backoff + jitter on 429 / 5xx / timeouts /
dropped connections / malformed replies (honouring `Retry-After`), a persistent SQLite cache so
no completed request is ever paid twice, token and cost accounting, and a progress bar.
Per-item failures never raise: they come back as `ChatResult.error` ("http_500", "timeout",
"connect_error", ...). The API key is read from the environment variable the config names and
lives only in the request headers: never in the config, results, cache, logs or reprs.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from proclab.errors import ConfigError, ProclabError
from proclab.teacher.cache import ResponseCache, cache_key, canonical_json
from proclab.teacher.completion import ChatResult, Usage, estimate_tokens, parse_completion
from proclab.teacher.ratelimit import ConnectionSlots, TokenBucket, backoff_delay, retry_after_s

log = logging.getLogger("proclab.teacher")

Messages = Sequence[Mapping[str, Any]]
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0"})
# Failures worth another attempt (plus every http_5xx); any other 4xx (bad request, auth,
# unknown model) is final.
RETRYABLE = frozenset({"timeout", "connect_error", "connection_dropped", "transport_error",
                       "malformed_json", "empty_choices", "provider_error", "http_408",
                       "http_409", "http_425", "http_429"})

RESERVED_PARAMS = frozenset({"model", "messages", "stream"})
MAX_RETRY_AFTER_S = 600.0  # a sanity bound on what a server may ask us to wait


def is_retryable(reason: str | None) -> bool:
    """Whether a failure reason is worth another attempt."""
    return reason is not None and (reason in RETRYABLE or reason.startswith("http_5"))


class TeacherError(ProclabError):
    """The teacher endpoint failed for some items and the caller asked for strict mode."""


class ClientConfig(BaseModel):
    """Where and how to call the teacher. `api_key_env` names the environment variable that
    holds the key (None: send no key); the key itself is never part of the config."""

    # hide_input_in_errors: a key pasted into api_key_env by mistake must not be echoed back.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    base_url: str = Field(description="e.g. https://openrouter.ai/api/v1 or http://127.0.0.1:8000/v1")
    model: str = Field(min_length=1)
    api_key_env: str | None = Field("OPENAI_API_KEY", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
                                    description="name of the variable holding the key")
    concurrency: int = Field(16, ge=1, le=1024)
    rpm: int | None = Field(None, ge=1, description="requests per minute, None = unlimited")
    timeout_s: float = Field(120.0, gt=0)
    max_retries: int = Field(6, ge=0)
    backoff_base_s: float = Field(1.0, ge=0)
    backoff_max_s: float = Field(60.0, ge=0)
    temperature: float | None = Field(None, ge=0)
    max_tokens: int | None = Field(None, ge=1)
    extra_body: dict[str, Any] = Field(default_factory=dict, description="provider params")
    cache_path: Path | None = None
    price_per_mtok_in: float = Field(0.0, ge=0, description="USD per million prompt tokens")
    price_per_mtok_out: float = Field(0.0, ge=0, description="USD per million completion tokens")

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http(s) URL such as http://127.0.0.1:8000/v1")
        return value.rstrip("/")

    @field_validator("extra_body")
    @classmethod
    def _no_reserved(cls, value: dict[str, Any]) -> dict[str, Any]:
        clash = sorted(RESERVED_PARAMS & value.keys())
        if clash:
            raise ValueError(f"{', '.join(clash)} cannot be set in extra_body")
        return value

    @property
    def endpoint(self) -> str:
        if self.base_url.endswith("/chat/completions"):
            return self.base_url
        return f"{self.base_url}/chat/completions"

    @property
    def is_local(self) -> bool:
        """Loopback endpoints (a local vLLM / llama.cpp server) may run without a key."""
        return urlsplit(self.base_url).hostname in LOCAL_HOSTS


def request_body(config: ClientConfig, messages: Messages, params: Mapping[str, Any]) -> dict:
    """The JSON body sent for `messages`: config defaults, then extra_body, then per-call
    params (a None value removes a default). This body is also what the cache key hashes."""
    clash = sorted(RESERVED_PARAMS & params.keys())
    if clash:
        raise ConfigError(f"{', '.join(clash)} cannot be passed as a request parameter")
    body: dict[str, Any] = {"model": config.model, "messages": [dict(m) for m in messages]}
    defaults = {"temperature": config.temperature, "max_tokens": config.max_tokens}
    for key, value in {**defaults, **config.extra_body, **params}.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body


def resolve_api_key(config: ClientConfig) -> str | None:
    """The key from the named environment variable; ConfigError naming the variable (never a
    value) when it is missing for a non-local endpoint."""
    if config.api_key_env is None:
        return None
    key = os.environ.get(config.api_key_env) or None
    if key is None and not config.is_local:
        raise ConfigError(
            f"environment variable {config.api_key_env} is not set",
            where=f"teacher endpoint {config.endpoint}",
            fix=f"export {config.api_key_env}=<your API key> (keys are read from the "
            "environment only), or set api_key_env to another variable",
        )
    return key


@dataclass(frozen=True)
class _Call:
    """One request: its cache key, the exact bytes sent, and a token estimate of its prompt."""

    key: str
    payload: bytes
    prompt_estimate: int


@dataclass
class _Session:
    """Per-event-loop state: asyncio primitives and open connections belong to one loop."""

    loop: asyncio.AbstractEventLoop
    url: httpx.URL  # parsed once; httpx would re-parse a string on every request
    headers: httpx.Headers  # the API key lives here and nowhere else
    connections: ConnectionSlots
    bucket: TokenBucket | None
    inflight: dict[str, asyncio.Task[ChatResult]]


class TeacherClient:
    """Async client; `async with TeacherClient(config) as client:` or call `aclose()`."""

    def __init__(self, config: ClientConfig):
        self.config = config
        self.usage = Usage()
        self._api_key = resolve_api_key(config)
        self._cache = ResponseCache(config.cache_path) if config.cache_path else None
        self._session: _Session | None = None
        self._not_before = 0.0  # monotonic time before which no request is sent (after a 429)
        self._rng = random.Random()

    def __repr__(self) -> str:
        return f"TeacherClient(model={self.config.model!r}, endpoint={self.config.endpoint!r})"

    async def __aenter__(self) -> TeacherClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool and the cache; the client is not usable afterwards."""
        await self._close_session()
        self.close()

    def close(self) -> None:
        """Close the cache (after `run_chat_many`, which closes its own connections)."""
        if self._cache is not None:
            self._cache.close()
            self._cache = None

    # ---- public API ------------------------------------------------------------------------
    async def chat(self, messages: Messages, **params: Any) -> ChatResult:
        """One chat completion: from the cache, or sent with retries. Never raises for HTTP or
        protocol failures; they come back with `error` set. Identical (messages, params) share
        one answer: to draw several samples of a prompt, pass a distinct `seed` to each."""
        body = request_body(self.config, messages, params)
        payload = canonical_json(body)  # sent as is, and hashed for the cache key
        call = _Call(hashlib.sha256(payload).hexdigest(), payload, _prompt_estimate(body))
        result = await self._lookup_or_fetch(call)
        self.usage.items += 1
        if result.ok:
            self.usage.ok += 1
        else:
            self.usage.failures[result.error or "unknown"] += 1
        return result

    async def chat_many(self, message_lists: Sequence[Messages], *, progress: bool = True,
                        strict: bool = False, **params: Any) -> list[ChatResult]:
        """Results in input order. Per-item failures are returned, not raised; with
        `strict=True` a TeacherError is raised after the run if any item failed."""
        with _progress_bar(len(message_lists), enabled=progress, usage=self.usage) as advance:

            async def one(messages: Messages) -> ChatResult:
                result = await self.chat(messages, **params)
                advance()
                return result

            results = list(await asyncio.gather(*(one(m) for m in message_lists)))
        if strict:
            self._raise_if_failed(results)
        return results

    def run_chat_many(self, message_lists: Sequence[Messages], *, progress: bool = True,
                      strict: bool = False, **params: Any) -> list[ChatResult]:
        """Synchronous `chat_many` (runs its own event loop; not callable from async code)."""

        async def main() -> list[ChatResult]:
            try:
                return await self.chat_many(message_lists, progress=progress, strict=strict,
                                            **params)
            finally:
                await self._close_session()

        return asyncio.run(main())

    # ---- internals -------------------------------------------------------------------------
    async def _lookup_or_fetch(self, call: _Call) -> ChatResult:
        if self._cache is not None and (record := self._cache.get(call.key)) is not None:
            self.usage.cache_hits += 1
            return ChatResult.from_record(record, cached=True)
        session = self._session_for_loop()
        running = session.inflight.get(call.key)
        if running is not None:  # the same request is already on the wire: share its answer
            result = await asyncio.shield(running)
            self.usage.cache_hits += 1
            return replace(result, cached=True, attempts=0)
        task = asyncio.ensure_future(self._fetch(session, call))
        session.inflight[call.key] = task
        try:
            return await task
        finally:
            session.inflight.pop(call.key, None)

    async def _fetch(self, session: _Session, call: _Call) -> ChatResult:
        """Send with retries; cache the result the moment it succeeds."""
        cfg = self.config
        attempt = 0
        while True:
            attempt += 1
            result, wait_hint = await self._attempt(session, call)
            if not is_retryable(result.error) or attempt > cfg.max_retries:
                break
            self.usage.retried[result.error] += 1
            delay = backoff_delay(attempt, cfg.backoff_base_s, cfg.backoff_max_s, self._rng)
            if wait_hint is not None:
                delay = max(delay, min(wait_hint, MAX_RETRY_AFTER_S))
                # Rate limits are per account: hold every request, not only this one.
                self._not_before = max(self._not_before, time.monotonic() + delay)
            log.info("retry %d/%d in %.2fs after %s", attempt, cfg.max_retries, delay, result.error)
            await asyncio.sleep(delay)
        result = replace(result, attempts=attempt)
        if result.ok and self._cache is not None:
            self._cache.put(call.key, cfg.model, result.to_record())
        elif not result.ok:
            log.warning("request failed after %d attempt(s): %s %s", attempt, result.error,
                        result.detail or "")
        return result

    async def _attempt(self, session: _Session, call: _Call) -> tuple[ChatResult, float | None]:
        """One HTTP request -> (result, seconds the server asked us to wait or None)."""
        pause = self._not_before - time.monotonic()
        if pause > 0:
            await asyncio.sleep(pause)
        if session.bucket is not None:
            await session.bucket.acquire()
        request = httpx.Request("POST", session.url, headers=session.headers,
                                content=call.payload)
        async with session.connections.checkout() as transport:
            self.usage.requests += 1
            try:
                async with asyncio.timeout(self.config.timeout_s):
                    response = await transport.handle_async_request(request)
                    try:
                        await response.aread()
                    finally:
                        await response.aclose()
            except (TimeoutError, httpx.TimeoutException):
                return ChatResult(error="timeout"), None
            except httpx.ConnectError as err:
                return ChatResult(error="connect_error", detail=self._scrub(str(err))), None
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as err:
                return ChatResult(error="connection_dropped", detail=self._scrub(str(err))), None
            except httpx.TransportError as err:
                return ChatResult(error="transport_error", detail=type(err).__name__), None
        if not 200 <= response.status_code < 300:
            detail = self._scrub(response.text[:300])
            return (ChatResult(error=f"http_{response.status_code}", detail=detail),
                    retry_after_s(response.headers))
        result = parse_completion(response.content, prompt_estimate=call.prompt_estimate)
        if result.error is not None:
            result = replace(result, detail=self._scrub(result.detail or ""))
        self._account(result)
        return result, None

    def _account(self, result: ChatResult) -> None:
        cfg = self.config
        self.usage.prompt_tokens += result.prompt_tokens
        self.usage.completion_tokens += result.completion_tokens
        self.usage.cost_usd += (result.prompt_tokens * cfg.price_per_mtok_in
                                + result.completion_tokens * cfg.price_per_mtok_out) / 1e6

    def _session_for_loop(self) -> _Session:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.loop is not loop:
            cfg = self.config
            headers = {"Content-Type": "application/json", "Accept": "application/json",
                       "User-Agent": "proclab-teacher"}
            if self._api_key:
                headers["Authorization"] = f"Bearer {self._api_key}"
            # A loopback endpoint never goes through an environment proxy.
            connections = ConnectionSlots(cfg.concurrency, cfg.endpoint, trust_env=not cfg.is_local)
            bucket = TokenBucket.per_minute(cfg.rpm) if cfg.rpm else None
            self._session = _Session(loop, httpx.URL(cfg.endpoint), httpx.Headers(headers),
                                     connections, bucket, {})
        return self._session

    async def _close_session(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.connections.aclose()

    def _scrub(self, text: str) -> str:
        """Remove the API key from text that came from the server (some echo it back)."""
        return text.replace(self._api_key, "***") if self._api_key else text

    def _raise_if_failed(self, results: Sequence[ChatResult]) -> None:
        failures = Counter(r.error for r in results if not r.ok)
        if not failures:
            return
        counts = ", ".join(f"{k}={v}" for k, v in sorted(failures.items()))
        if failures.get("connect_error"):
            raise TeacherError(
                f"cannot connect to the teacher endpoint ({counts})",
                where=self.config.endpoint,
                fix="check base_url and that the server is running and reachable",
            )
        raise TeacherError(
            f"{sum(failures.values())} of {len(results)} requests failed ({counts})",
            where=self.config.endpoint,
            fix="rerun to retry only the failed items (successes are cached), or raise "
            "max_retries / timeout_s",
        )


def _prompt_estimate(body: Mapping[str, Any]) -> int:
    return estimate_tokens("".join(str(m.get("content", "")) for m in body["messages"]))


@contextlib.contextmanager
def _progress_bar(total: int, *, enabled: bool, usage: Usage) -> Iterator[Callable[[], None]]:
    """A rich progress bar on stderr; yields the per-item `advance()` callback."""
    if not enabled:
        yield lambda: None
        return
    columns = (TextColumn("teacher"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
               TextColumn("{task.description}"))
    with Progress(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task("", total=total)

        def advance() -> None:
            bar.update(task, advance=1, description=(
                f"cached={usage.cache_hits} failed={sum(usage.failures.values())}"))

        yield advance


def dry_run(message_lists: Sequence[Messages], config: ClientConfig, **params: Any) -> str:
    """What `chat_many(message_lists, **params)` would send, estimated tokens (chars / 4) and
    cost; reads the cache (if it exists) to leave out answered requests. No network."""
    bodies = [request_body(config, m, params) for m in message_lists]
    cached = 0
    if config.cache_path is not None and config.cache_path.exists():
        cache = ResponseCache(config.cache_path)
        try:
            keys = set(cache)
            fresh = [b for b in bodies if cache_key(b) not in keys]
        finally:
            cache.close()
        cached = len(bodies) - len(fresh)
        bodies = fresh
    tokens_in = sum(_prompt_estimate(b) for b in bodies)
    max_out = bodies[0].get("max_tokens") if bodies else config.max_tokens
    key_state = ("none sent" if config.api_key_env is None else
                 f"${config.api_key_env} ({'set' if os.environ.get(config.api_key_env) else 'NOT SET'})")
    lines = [
        f"endpoint: POST {config.endpoint}",
        f"model: {config.model}",
        f"api key: {key_state}",
        f"requests: {len(bodies)} to send, {cached} already cached",
        f"concurrency: {config.concurrency}, rpm: {config.rpm or 'unlimited'}",
        f"params: {json.dumps({k: v for k, v in (bodies[0] if bodies else {}).items() if k not in RESERVED_PARAMS}, sort_keys=True)}",
        f"estimated prompt tokens: {tokens_in} (chars / 4)",
        f"estimated cost (prompt): ${tokens_in * config.price_per_mtok_in / 1e6:.4f}",
    ]
    if isinstance(max_out, int):
        out = max_out * len(bodies)
        lines.append(f"completion tokens: at most {out} (max_tokens x requests), "
                     f"cost at most ${out * config.price_per_mtok_out / 1e6:.4f}")
    else:
        lines.append("completion tokens: unbounded (max_tokens not set)")
    if bodies:
        lines.append("first request messages:")
        for message in bodies[0]["messages"][:3]:
            text = str(message.get("content", ""))
            snippet = text if len(text) <= 400 else text[:400] + f"... [{len(text)} chars]"
            lines.append(f"  [{message.get('role', '?')}] {snippet}")
    return "\n".join(lines)
