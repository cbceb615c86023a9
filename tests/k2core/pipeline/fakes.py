"""Scripted fake roles (and a tiny text engine) for orchestration tests; each counts calls and cancellations."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

from k2core.engines.base import seeds_for
from k2core.roles import IndexedDelta, JudgeBase, JudgeOutcome, PlanOutcome
from k2core.types import Completion, Delta, Message, Plan, SamplingParams, Usage, Verdict


@dataclass
class Script:
    """One scripted candidate: its text, how long it takes, and its token count."""

    text: str
    delay: float = 0.0
    tokens: int = 10


async def _wait_or_fail(fake: FakePlanner | FakeJudge) -> None:
    """Sleep the fake's delay (counting a cancellation), then raise its scripted error if it has one."""
    try:
        await asyncio.sleep(fake.delay)
    except asyncio.CancelledError:
        fake.cancelled += 1
        raise
    if fake.error is not None:
        raise fake.error


class FakePlanner:
    """Returns a fixed outcome after ``delay`` seconds."""

    def __init__(self, outcome: PlanOutcome | None = None, delay: float = 0.0, error: Exception | None = None) -> None:
        self.outcome = outcome or PlanOutcome(
            plan=Plan(is_hard=True, plan="Add the numbers carefully.", search_terms=["addition"]),
            usage=Usage(prompt_tokens=20, completion_tokens=12, seconds=0.01, calls=1),
        )
        self.delay, self.error = delay, error
        self.calls = 0
        self.cancelled = 0

    async def plan(self, problem: str) -> PlanOutcome:
        self.calls += 1
        await _wait_or_fail(self)
        return self.outcome


class FakeSolver:
    """Hands out scripted candidates in order across calls; records prompts, seeds and cancellations."""

    def __init__(self, scripts: Sequence[Script | str], chunks: int = 3, context_tokens: int | None = 8192) -> None:
        self.context_tokens = context_tokens
        self.scripts = [s if isinstance(s, Script) else Script(s) for s in scripts]
        self.chunks = chunks
        self.issued = 0
        self.calls: list[int] = []
        self.seeds: list[int | None] = []
        self.prompts: list[str] = []
        self.conversations: list[list[Message]] = []
        self.cancelled = 0
        self.finished = 0

    def _take(self, messages: list[Message], params: SamplingParams, n: int) -> list[tuple[Script, int | None]]:
        self.calls.append(n)
        self.prompts.append(messages[-1].content)
        self.conversations.append(list(messages))
        taken = self.scripts[self.issued : self.issued + n]
        self.issued += n
        seeds = seeds_for(params, n)
        self.seeds += seeds
        return list(zip(taken, seeds, strict=False))

    async def generate(self, messages: list[Message], params: SamplingParams, n: int) -> list[Completion]:
        taken = self._take(messages, params, n)
        try:
            await asyncio.sleep(max((s.delay for s, _ in taken), default=0.0))
        except asyncio.CancelledError:
            self.cancelled += n
            raise
        self.finished += n
        return [Completion(text=s.text, prompt_tokens=5, completion_tokens=s.tokens, seconds=s.delay) for s, _ in taken]

    async def stream(self, messages: list[Message], params: SamplingParams, n: int) -> AsyncIterator[IndexedDelta]:
        taken = self._take(messages, params, n)
        queue: asyncio.Queue[IndexedDelta | None] = asyncio.Queue()

        async def one(index: int, script: Script) -> None:
            pieces = _split(script.text, self.chunks)
            try:
                for k, piece in enumerate(pieces):
                    await asyncio.sleep(script.delay / len(pieces))
                    last = k == len(pieces) - 1
                    delta = Delta(
                        text=piece,
                        finish_reason="stop" if last else None,
                        prompt_tokens=5 if last else 0,
                        completion_tokens=script.tokens if last else 0,
                    )
                    queue.put_nowait(IndexedDelta(index=index, delta=delta))
                self.finished += 1
            except asyncio.CancelledError:
                self.cancelled += 1
                raise
            finally:
                queue.put_nowait(None)

        tasks = [asyncio.create_task(one(i, s)) for i, (s, _) in enumerate(taken)]
        try:
            running = len(tasks)
            while running:
                item = await queue.get()
                if item is None:
                    running -= 1
                else:
                    yield item
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


def _split(text: str, chunks: int) -> list[str]:
    """``text`` cut into up to ``chunks`` non-empty pieces."""
    size = max(1, -(-len(text) // chunks))
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


class FakeJudge(JudgeBase):
    """Decides by a rule over the two shown texts; records every (a, b) call and cancellations."""

    def __init__(
        self,
        rule: Callable[[str, str], str | Verdict] | None = None,
        delay: float = 0.0,
        error: Exception | None = None,
    ) -> None:
        self.rule = rule or (lambda a, b: "tie")
        self.delay, self.error = delay, error
        self.calls: list[tuple[str, str]] = []
        self.cancelled = 0

    async def compare(self, problem: str, a: str, b: str) -> JudgeOutcome:
        self.calls.append((a, b))
        await _wait_or_fail(self)
        decided = self.rule(a, b)
        verdict = decided if isinstance(decided, Verdict) else Verdict(winner=decided, confidence=0.9, reason="rule")
        return JudgeOutcome(verdict=verdict, usage=Usage(prompt_tokens=50, completion_tokens=8, seconds=0.01, calls=1))


def prefers(word: str) -> Callable[[str, str], str]:
    """A judge rule that picks the text containing ``word`` (ties otherwise)."""

    def rule(a: str, b: str) -> str:
        if (word in a) == (word in b):
            return "tie"
        return "A" if word in a else "B"

    return rule


def always_first(a: str, b: str) -> str:
    """A maximally position-biased judge: always the first shown."""
    return "A"


class TextEngine:
    """An Engine that returns scripted texts in order and records the params it was given."""

    name = "text"
    supports_json_schema = True
    context_tokens = 4096

    def __init__(self, texts: Sequence[str], error: Exception | None = None) -> None:
        self.texts = list(texts)
        self.error = error
        self.params: list[SamplingParams] = []
        self.messages: list[list[Message]] = []

    async def generate(self, messages: list[Message], params: SamplingParams, n: int = 1) -> list[Completion]:
        self.params.append(params)
        self.messages.append(messages)
        if self.error is not None:
            raise self.error
        return [
            Completion(text=self.texts.pop(0), prompt_tokens=30, completion_tokens=7, seconds=0.02) for _ in range(n)
        ]

    async def stream(self, messages: list[Message], params: SamplingParams) -> AsyncIterator[Delta]:
        (completion,) = await self.generate(messages, params, 1)
        for word in completion.text.split(" "):
            yield Delta(text=word + " ")
        yield Delta(finish_reason="stop", prompt_tokens=30, completion_tokens=7)

    async def load(self) -> None:
        return None

    async def health(self) -> bool:
        return True

    async def close(self) -> None:
        return None
