"""The three role contracts. In-process implementations live in ``k2core.pipeline``; remote ones in services."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator
from typing import Protocol

from pydantic import BaseModel

from k2core.types import Completion, Delta, Message, Plan, SamplingParams, Usage, Verdict


class PlanOutcome(BaseModel):
    """A plan, or None with the reason it could not be made; always the usage it cost."""

    plan: Plan | None
    error: str | None = None
    usage: Usage = Usage()


class JudgeOutcome(BaseModel):
    """A verdict (a tie when the judge's output was unusable, with the reason) and its usage."""

    verdict: Verdict
    error: str | None = None
    usage: Usage = Usage()


class PairOutcome(BaseModel):
    """The judge on one pair in both orders: ``ab`` with A shown first, ``ba`` with B shown first."""

    ab: JudgeOutcome
    ba: JudgeOutcome


class IndexedDelta(BaseModel):
    """A streamed delta of candidate ``index``."""

    index: int
    delta: Delta


class Planner(Protocol):
    """Writes a short plan for a problem."""

    async def plan(self, problem: str) -> PlanOutcome: ...


class Solver(Protocol):
    """Samples candidates for a conversation; ``context_tokens`` is its engine's context (None when unknown)."""

    @property
    def context_tokens(self) -> int | None: ...

    async def generate(self, messages: list[Message], params: SamplingParams, n: int) -> list[Completion]: ...

    def stream(self, messages: list[Message], params: SamplingParams, n: int) -> AsyncGenerator[IndexedDelta, None]: ...


class Judge(Protocol):
    """Compares two candidate answers to a problem; A is shown first. ``compare_both`` judges both orders."""

    async def compare(self, problem: str, a: str, b: str) -> JudgeOutcome: ...

    async def compare_both(self, problem: str, a: str, b: str) -> PairOutcome: ...


class JudgeBase(ABC):
    """A Judge from its ``compare``: both orders are two concurrent compares (an engine decodes them in one batch)."""

    @abstractmethod
    async def compare(self, problem: str, a: str, b: str) -> JudgeOutcome:
        """Which of ``a`` (shown first) and ``b`` better answers ``problem``."""

    async def compare_both(self, problem: str, a: str, b: str) -> PairOutcome:
        """``a`` vs ``b`` with each shown first, at once."""
        ab, ba = await asyncio.gather(self.compare(problem, a, b), self.compare(problem, b, a))
        return PairOutcome(ab=ab, ba=ba)
