"""The in-process Solver over an Engine, and the solver prompt (plan prepended, as in the paper)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing

from k2core.engines.base import Engine, seeds_for
from k2core.pipeline import templates
from k2core.pipeline.streams import merged
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


def coalesce(deltas: Sequence[IndexedDelta]) -> list[IndexedDelta]:
    """One delta per candidate, in order of first appearance: each candidate's texts joined, its finish reason and
    token counts taken from its last delta (the finishing one carries them)."""
    merged_by_index: dict[int, IndexedDelta] = {}
    for item in deltas:
        seen = merged_by_index.get(item.index)
        if seen is None:
            merged_by_index[item.index] = item
            continue
        last = item.delta
        combined = last.model_copy(update={"text": seen.delta.text + last.text})
        merged_by_index[item.index] = IndexedDelta(index=item.index, delta=combined)
    return list(merged_by_index.values())


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

    async def stream(
        self, messages: list[Message], params: SamplingParams, n: int
    ) -> AsyncGenerator[IndexedDelta, None]:
        """Deltas of ``n`` sequences as they arrive; closing or cancelling the iterator stops every sequence."""

        async def sequence(index: int, seed: int | None) -> AsyncGenerator[IndexedDelta, None]:
            async with aclosing(self.engine.stream(messages, params.with_seed(seed))) as deltas:  # type: ignore[type-var]
                async for delta in deltas:
                    yield IndexedDelta(index=index, delta=delta)

        async with aclosing(merged([sequence(i, seed) for i, seed in enumerate(seeds_for(params, n))])) as deltas:
            async for item in deltas:
                yield item
