"""Cerebras WSE engine via ``cerebras-cloud-sdk``: the shared chat logic plus a tokens-per-minute limiter and
backoff on 429/503 that honours ``retry-after`` and ``x-ratelimit-reset-*`` headers."""

from __future__ import annotations

import asyncio
import email.utils
import os
import random
import time
from typing import Any

import httpx

from k2core.config import EngineSettings
from k2core.engines.openai_compat import ChatAPIEngine, read_key_file
from k2core.errors import EngineError

__all__ = ["CerebrasEngine", "TokenBucket", "retry_delay"]


class TokenBucket:
    """Client-side tokens-per-minute limit: reserve an estimate before a call, settle the real count after."""

    def __init__(self, tokens_per_minute: int) -> None:
        self.capacity = float(tokens_per_minute)
        self.rate = tokens_per_minute / 60.0
        self.level = self.capacity
        self._updated = time.monotonic()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self._updated) * self.rate)
        self._updated = now

    async def acquire(self, tokens: int) -> int:
        """Wait until ``tokens`` (at most the capacity) are available, take them and return how many were taken."""
        tokens = min(tokens, int(self.capacity))
        async with self._lock:
            self._refill()
            while self.level < tokens:
                await asyncio.sleep((tokens - self.level) / self.rate)
                self._refill()
            self.level -= tokens
        return tokens

    def settle(self, reserved: int, used: int) -> None:
        """Give back an over-estimate (or take an under-estimate) once the real usage is known."""
        self._refill()
        self.level = min(self.capacity, self.level + reserved - used)


def retry_delay(headers: httpx.Headers, attempt: int, cap: float) -> float:
    """Seconds to wait before retrying: ``retry-after-ms``, ``retry-after`` (seconds or HTTP date), else the soonest
    ``x-ratelimit-reset-*`` (seconds), else exponential backoff with jitter; never above ``cap``."""
    delay: float | None = None
    if "retry-after-ms" in headers:
        delay = _seconds(headers["retry-after-ms"], 1000.0)
    if delay is None and "retry-after" in headers:
        value = headers["retry-after"]
        delay = _seconds(value, 1.0)
        if delay is None:
            when = email.utils.parsedate_to_datetime(value) if email.utils.parsedate(value) else None
            delay = when.timestamp() - time.time() if when else None
    if delay is None:
        resets = [_seconds(v, 1.0) for k, v in headers.items() if k.lower().startswith("x-ratelimit-reset")]
        delay = min((r for r in resets if r is not None), default=None)
    if delay is None:
        delay = 2.0**attempt * (0.5 + random.random() / 2)
    return max(0.0, min(delay, cap))


def _seconds(value: str, per_second: float) -> float | None:
    try:
        return float(value.strip().rstrip("s")) / per_second
    except ValueError:
        return None


def cerebras_key(settings: EngineSettings) -> str:
    """The API key from settings, ``$CEREBRAS_API_KEY`` (``cerebras.api_key_env``) or a mounted secret file."""
    cfg = settings.cerebras
    key = (
        settings.api_key
        or os.environ.get(cfg.api_key_env)
        or read_key_file(cfg.api_key_file)
        or read_key_file(settings.api_key_file)
    )
    if not key:
        raise EngineError(
            f"no Cerebras API key: set ${cfg.api_key_env} or mount a key file (cerebras.api_key_file)", retryable=False
        )
    return key


class CerebrasEngine(ChatAPIEngine):
    """The ``cerebras`` engine: AsyncCerebras with backoff and a tokens-per-minute limit (0 = unlimited)."""

    name = "cerebras"

    def __init__(self, settings: EngineSettings) -> None:
        from cerebras.cloud import sdk

        client = sdk.AsyncCerebras(
            api_key=cerebras_key(settings),
            base_url=settings.cerebras.base_url or settings.base_url,
            timeout=settings.timeout_s,
            max_retries=0,
            warm_tcp_connection=False,
        )
        super().__init__(settings, client, sdk)
        self._max_retries = settings.cerebras.max_retries
        self._backoff_max_s = settings.cerebras.backoff_max_s
        tpm = settings.cerebras.tokens_per_minute
        self._bucket = TokenBucket(tpm) if tpm > 0 else None

    async def _send(self, body: dict[str, Any]) -> Any:
        """Send with the limiter held for the estimate; on 429/503 wait as the server says and try again."""
        estimate = sum(len(m["content"]) for m in body["messages"]) // 4 + body["max_tokens"]
        attempt = 0
        while True:
            reserved = await self._bucket.acquire(estimate) if self._bucket else 0
            try:
                response = await super()._send(body)
            except Exception as exc:
                if self._bucket:
                    self._bucket.settle(reserved, 0)
                backoff = isinstance(exc, self._sdk.APIStatusError) and exc.status_code in (429, 503)
                if not backoff or attempt >= self._max_retries:
                    raise
                headers = getattr(getattr(exc, "response", None), "headers", httpx.Headers())
                await asyncio.sleep(retry_delay(headers, attempt, self._backoff_max_s))
                attempt += 1
                continue
            usage = getattr(response, "usage", None)
            if self._bucket and usage is not None:
                self._bucket.settle(reserved, usage.total_tokens)
            return response
