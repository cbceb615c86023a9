"""``ScriptedEngine``: an Engine that answers from a script, for orchestration tests.

Each *sample* (one of the ``n`` in ``generate``, or one ``stream`` call) takes the next answer: from the first
``by_prompt`` entry whose key occurs in the last message, else from ``script`` in order, else ``default``.
An answer is a string or a ``Reply`` (text, delay, error, error after some streamed chunks, finish reason);
a list under a ``by_prompt`` key is consumed in order, its last entry repeating. A ``Callable`` script gets
``(messages, params, sample_index)`` and returns an answer.

Everything is recorded: ``calls`` (one ``Call`` per generate/stream), ``samples``, ``cancelled`` (samples
whose task was cancelled while delayed or streaming), ``inflight`` and ``max_inflight``.

    engine = ScriptedEngine(["A", Reply("B", delay=0.2), Reply(error=EngineError("down"))])
    engine = ScriptedEngine(by_prompt={"judge": '{"winner": "A"}', "plan": ["{bad", '{"plan": "x"}']})
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

from k2core.engines.base import seeds_for
from k2core.errors import EngineError
from k2core.types import Completion, Delta, Message, SamplingParams


@dataclass
class Reply:
    """One scripted answer: its text, how long before it starts, and how it may fail."""

    text: str = ""
    delay: float = 0.0
    error: Exception | None = None
    fail_after_chunks: int | None = None
    finish_reason: str = "stop"
    chunk_delay: float = 0.0


Answer = str | Reply
Script = Sequence[Answer] | Callable[[list[Message], SamplingParams, int], Answer]


@dataclass
class Call:
    """One generate/stream call as the engine saw it."""

    messages: list[Message]
    params: SamplingParams
    n: int
    stream: bool
    seeds: list[int | None] = field(default_factory=list)


def _words(text: str) -> list[str]:
    """Stream chunks: words with their following whitespace."""
    chunks: list[str] = []
    for part in text.split(" "):
        chunks.append(part if not chunks else " " + part)
    return [c for c in chunks if c]


class ScriptedEngine:
    """A deterministic Engine; see the module docstring."""

    def __init__(
        self,
        script: Script = (),
        *,
        by_prompt: dict[str, Answer | list[Answer]] | None = None,
        default: Answer = "ok",
        name: str = "scripted",
        supports_json_schema: bool = False,
        context_tokens: int | None = None,
        healthy: bool = True,
    ) -> None:
        self.script = script
        self.by_prompt = {k: list(v) if isinstance(v, list) else [v] for k, v in (by_prompt or {}).items()}
        self.default = default
        self.name = name
        self.supports_json_schema = supports_json_schema
        self.context_tokens = context_tokens
        self.healthy = healthy
        self.calls: list[Call] = []
        self.samples = 0
        self.cancelled = 0
        self.closed = False
        self.loaded = False
        self.inflight = 0
        self.max_inflight = 0
        self._next = 0

    def _answer(self, messages: list[Message], params: SamplingParams, index: int) -> Reply:
        prompt = messages[-1].content if messages else ""
        answer: Answer
        for key, queue in self.by_prompt.items():
            if key in prompt:
                answer = queue.pop(0) if len(queue) > 1 else queue[0]
                break
        else:
            if callable(self.script):
                answer = self.script(messages, params, index)
            elif self._next < len(self.script):
                answer = self.script[self._next]
                self._next += 1
            else:
                answer = self.default
        self.samples += 1
        return answer if isinstance(answer, Reply) else Reply(text=answer)

    async def _wait(self, seconds: float) -> None:
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise

    def _completion(self, messages: list[Message], reply: Reply) -> Completion:
        return Completion(
            text=reply.text,
            finish_reason=reply.finish_reason,
            prompt_tokens=sum(len(m.content.split()) for m in messages),
            completion_tokens=len(reply.text.split()),
            seconds=reply.delay,
        )

    async def _one(self, messages: list[Message], params: SamplingParams, index: int) -> Completion:
        reply = self._answer(messages, params, index)
        await self._wait(reply.delay)
        if reply.error is not None:
            raise reply.error
        return self._completion(messages, reply)

    async def generate(self, messages: list[Message], params: SamplingParams, n: int = 1) -> list[Completion]:
        """``n`` scripted completions, produced concurrently (so delays overlap)."""
        self.calls.append(Call(messages, params, n, stream=False, seeds=seeds_for(params, n)))
        self.inflight += 1
        self.max_inflight = max(self.max_inflight, self.inflight)
        try:
            return list(await asyncio.gather(*(self._one(messages, params, i) for i in range(n))))
        finally:
            self.inflight -= 1

    async def stream(self, messages: list[Message], params: SamplingParams) -> AsyncIterator[Delta]:
        """The scripted text word by word; the last delta carries finish_reason and token counts."""
        self.calls.append(Call(messages, params, 1, stream=True, seeds=[params.seed]))
        self.inflight += 1
        self.max_inflight = max(self.max_inflight, self.inflight)
        try:
            reply = self._answer(messages, params, 0)
            await self._wait(reply.delay)
            if reply.error is not None and reply.fail_after_chunks is None:
                raise reply.error
            for i, chunk in enumerate(_words(reply.text)):
                if reply.error is not None and i == reply.fail_after_chunks:
                    raise reply.error
                await self._wait(reply.chunk_delay)
                yield Delta(text=chunk)
            done = self._completion(messages, reply)
            yield Delta(finish_reason=done.finish_reason, prompt_tokens=done.prompt_tokens,
                        completion_tokens=done.completion_tokens)
        except GeneratorExit:
            self.cancelled += 1
            raise
        finally:
            self.inflight -= 1

    async def load(self) -> None:
        if not self.healthy:
            raise EngineError(f"{self.name} cannot load", retryable=True)
        self.loaded = True

    async def health(self) -> bool:
        return self.healthy

    async def close(self) -> None:
        self.closed = True
