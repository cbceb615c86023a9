"""The in-process Solver over an Engine, and the solver prompt (plan prepended, as in the paper)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from k2core.engines.base import Engine, seeds_for
from k2core.pipeline import templates
from k2core.roles import IndexedDelta
from k2core.types import Completion, Demonstration, Message, Plan, SamplingParams

_ANSWER_LINE = "End with a final line of the form 'Answer: ...' holding only the final answer."
ANSWER_FORMATS: dict[str, str] = {
    "math": "Put the final answer in \\boxed{}.",
    "code": "Give the complete final program as one fenced ```python code block.",
    "science": "End with a final line of the form 'Answer: X' where X is the letter of the correct choice.",
}


def solver_prompt(problem: str, plan: Plan | None, domain: str) -> str:
    """The solver's user turn: the plan (when there is one) prepended to the problem and its answer format."""
    plan_block = templates.render("solver_plan", plan=plan.plan) if plan is not None else ""
    return templates.render(
        "solver", plan_block=plan_block, answer_format=ANSWER_FORMATS.get(domain, _ANSWER_LINE), problem=problem
    )


def solver_messages(
    problem: str,
    plan: Plan | None,
    domain: str,
    demonstrations: Sequence[Demonstration] = (),
    system: str | None = None,
) -> list[Message]:
    """The solver conversation: the caller's system turn if any, each demonstration as a solved turn (same template,
    no plan), then the problem with its plan. Demonstrations teach a base model the answer shape; the plan belongs
    to this problem only."""
    turns: list[Message] = [Message(role="system", content=system)] if system else []
    for demo in demonstrations:
        turns.append(Message(role="user", content=solver_prompt(demo.problem, None, domain)))
        turns.append(Message(role="assistant", content=demo.response))
    return turns + [Message(role="user", content=solver_prompt(problem, plan, domain))]


class EngineSolver:
    """Solver role over an Engine: batched ``generate``, or ``n`` concurrent streams with distinct seeds."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def context_tokens(self) -> int | None:
        """The context length of the engine behind this solver."""
        return self.engine.context_tokens

    async def generate(self, messages: list[Message], params: SamplingParams, n: int) -> list[Completion]:
        """``n`` completions, decoded together where the engine can."""
        return await self.engine.generate(messages, params, n)

    async def stream(self, messages: list[Message], params: SamplingParams, n: int) -> AsyncIterator[IndexedDelta]:
        """Deltas of ``n`` sequences as they arrive; closing or cancelling the iterator stops every sequence."""
        queue: asyncio.Queue[IndexedDelta | asyncio.Task[None]] = asyncio.Queue()

        async def pump(index: int, seed: int | None) -> None:
            async for delta in self.engine.stream(messages, params.with_seed(seed)):
                queue.put_nowait(IndexedDelta(index=index, delta=delta))

        tasks = [asyncio.create_task(pump(i, seed)) for i, seed in enumerate(seeds_for(params, n))]
        for task in tasks:
            task.add_done_callback(queue.put_nowait)
        try:
            running = len(tasks)
            while running:
                item = await queue.get()
                if isinstance(item, IndexedDelta):
                    yield item
                    continue
                running -= 1
                if not item.cancelled() and item.exception() is not None:
                    raise item.exception()  # type: ignore[misc]
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
