"""Replicas of any engine: least-loaded routing, health tracking and failover within the request deadline."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from k2core.engines.base import Engine
from k2core.errors import DeadlineError, EngineError, UnavailableError
from k2core.types import Completion, Delta, Message, SamplingParams

__all__ = ["Pool", "ReplicaState"]


@dataclass(eq=False)
class ReplicaState:
    """One replica's routing state."""

    engine: Engine
    label: str
    inflight: int = 0
    healthy: bool = True
    failed_at: float = 0.0
    last_error: str | None = None


class Pool:
    """Routes each request to the healthy replica with the fewest requests in flight.

    A replica that fails (a retryable EngineError) is marked unhealthy and the request moves to another replica,
    within ``timeout_s`` of the request's start; an unhealthy replica is probed with ``health()`` again after
    ``cooldown_s``. Streams fail over only before their first delta. No replica left → UnavailableError.
    """

    def __init__(
        self,
        replicas: Sequence[Engine],
        *,
        timeout_s: float,
        cooldown_s: float = 5.0,
        labels: Sequence[str] | None = None,
    ) -> None:
        if not replicas:
            raise ValueError("a pool needs at least one replica")
        names = labels or [f"{engine.name}-{i}" for i, engine in enumerate(replicas)]
        self.replicas = [ReplicaState(engine, label) for engine, label in zip(replicas, names, strict=True)]
        self.name = replicas[0].name
        self.supports_json_schema = all(engine.supports_json_schema for engine in replicas)
        self.timeout_s = timeout_s
        self.cooldown_s = cooldown_s

    async def generate(self, messages: list[Message], params: SamplingParams, n: int = 1) -> list[Completion]:
        """``n`` completions from one replica, failing over to others on retryable errors."""
        deadline = time.monotonic() + self.timeout_s
        tried: set[ReplicaState] = set()
        while True:
            replica = await self._choose(tried, deadline)
            replica.inflight += 1
            try:
                async with asyncio.timeout(self._remaining(deadline)):
                    result = await replica.engine.generate(messages, params, n)
            except EngineError as exc:
                self._failed(replica, exc, tried)
                continue
            except TimeoutError as exc:
                raise self._deadline_error() from exc
            finally:
                replica.inflight -= 1
            replica.healthy = True
            return result

    async def stream(self, messages: list[Message], params: SamplingParams) -> AsyncIterator[Delta]:
        """Deltas from one replica; before the first delta a failing replica is replaced by another."""
        deadline = time.monotonic() + self.timeout_s
        tried: set[ReplicaState] = set()
        while True:
            replica = await self._choose(tried, deadline)
            replica.inflight += 1
            started = False
            try:
                stream = replica.engine.stream(messages, params)
                async with contextlib.aclosing(stream) as deltas:  # type: ignore[type-var]  # an async generator
                    async with asyncio.timeout(self._remaining(deadline)):
                        first = await anext(deltas, None)
                    started = True
                    if first is not None:
                        yield first
                        async for delta in deltas:
                            yield delta
            except EngineError as exc:
                if started:
                    self._mark_failed(replica, exc)
                    raise
                self._failed(replica, exc, tried)
                continue
            except TimeoutError as exc:
                if started:
                    raise
                raise self._deadline_error() from exc
            finally:
                replica.inflight -= 1
            replica.healthy = True
            return

    @property
    def context_tokens(self) -> int | None:
        """The smallest context among replicas that know theirs."""
        return min(
            (r.engine.context_tokens for r in self.replicas if r.engine.context_tokens is not None), default=None
        )

    async def load(self) -> None:
        """Load every replica; a replica that fails is marked unhealthy, and only all failing raises."""
        results = await asyncio.gather(*(r.engine.load() for r in self.replicas), return_exceptions=True)
        for replica, result in zip(self.replicas, results, strict=True):
            if isinstance(result, EngineError):
                self._mark_failed(replica, result)
            elif isinstance(result, BaseException):
                raise result
        if not any(r.healthy for r in self.replicas):
            states = ", ".join(f"{r.label}: {r.last_error}" for r in self.replicas)
            raise UnavailableError(f"no {self.name} replica could load ({states})")

    async def health(self) -> bool:
        """Probe every replica; healthy when at least one is."""
        results = await asyncio.gather(*(self._probe(r) for r in self.replicas))
        return any(results)

    async def close(self) -> None:
        """Close every replica."""
        await asyncio.gather(*(r.engine.close() for r in self.replicas))

    async def _choose(self, tried: set[ReplicaState], deadline: float) -> ReplicaState:
        """The least-loaded healthy replica not tried yet; replicas past their cooldown are re-probed first."""
        now = time.monotonic()
        due = [r for r in self.replicas if r not in tried and not r.healthy and now - r.failed_at >= self.cooldown_s]
        if due:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._remaining(deadline)):
                    await asyncio.gather(*(self._probe(r) for r in due))
        ready = [r for r in self.replicas if r not in tried and r.healthy]
        if not ready:
            states = ", ".join(f"{r.label}: {r.last_error or 'unhealthy'}" for r in self.replicas)
            raise UnavailableError(f"no healthy {self.name} replica ({len(self.replicas)} configured; {states})")
        return min(ready, key=lambda r: r.inflight)

    async def _probe(self, replica: ReplicaState) -> bool:
        try:
            ok = await replica.engine.health()
        except Exception:
            ok = False
        if ok:
            replica.healthy = True
        else:
            self._mark_failed(replica, None)
        return ok

    def _failed(self, replica: ReplicaState, exc: EngineError, tried: set[ReplicaState]) -> None:
        """Record a failed attempt; re-raise when another replica cannot help."""
        tried.add(replica)
        if not exc.retryable:
            raise exc
        self._mark_failed(replica, exc)

    @staticmethod
    def _mark_failed(replica: ReplicaState, exc: EngineError | None) -> None:
        replica.healthy = False
        replica.failed_at = time.monotonic()
        replica.last_error = str(exc) if exc is not None else "health probe failed"

    def _remaining(self, deadline: float) -> float:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise self._deadline_error()
        return remaining

    def _deadline_error(self) -> DeadlineError:
        return DeadlineError(f"no {self.name} replica answered within {self.timeout_s}s")
