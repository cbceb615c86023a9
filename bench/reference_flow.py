"""The K2-Think reference control flow, re-created from its public description, against an OpenAI-compatible server.

One script, one request at a time. N samples run in parallel and each plans for itself, as the public reference
does: a planner call returns JSON ``{is_hard, plan, search_terms}``; when the problem is judged hard, a second
planner call writes a plan from those search terms; then the solver call with the plan prepended. A *linear*
chain of pairwise judge calls follows (the incumbent meets each next candidate once; only the text after
``</think>`` is compared), under a soft timeout (go on with the samples finished by then) and a hard one.
Planner and judge calls are JSON-constrained where the reference constrains them. It uses k2think's prompt texts
(plus one plan-from-topics prompt) so a head-to-head measures the control flow, not the prompts.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from openai import AsyncOpenAI

from k2core import verify
from k2core.pipeline.judge import VERDICT_SCHEMA, judge_messages, verdict_from_text
from k2core.pipeline.parsing import ParseError
from k2core.pipeline.planner import PLAN_SCHEMA, plan_from_text, planner_messages
from k2core.pipeline.select import extract_answer
from k2core.pipeline.solver import solver_messages
from k2core.types import Demonstration, Message, Plan


PLAN_FROM_TOPICS = """Here is a problem and some topics that may help with it.
<question>{problem}</question>
<topics>{topics}</topics>
Write a plan for solving the problem that uses these topics. Do not state or hint at the final answer.
Put the plan inside <plan></plan>."""


@dataclass(frozen=True)
class FlowSettings:
    """Sampling, N, the reference's timeouts (soft 9 min, hard 120 min) and any few-shot demonstrations."""

    model: str
    n: int = 3
    max_tokens: int = 256
    temperature: float = 1.0
    top_p: float = 0.95
    plan_max_tokens: int = 384
    judge_max_tokens: int = 192
    soft_timeout_s: float = 540.0
    hard_timeout_s: float = 7200.0
    demonstrations: tuple[Demonstration, ...] = ()


@dataclass
class FlowResult:
    """The chosen answer and what the flow cost."""

    answer: str | None
    candidates: list[str]
    selected: int
    judge_calls: int = 0
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    timings_s: dict[str, float] = field(default_factory=dict)


class ReferenceFlow:
    """N parallel samples, each planning for itself (topics, a plan when hard, the solver) → linear judge chain,
    over one OpenAI-compatible client."""

    def __init__(self, client: AsyncOpenAI, settings: FlowSettings) -> None:
        self.client, self.settings = client, settings
        self.prompt_tokens = self.completion_tokens = self.calls = 0

    async def _chat(
        self,
        messages: list[Message],
        max_tokens: int,
        temperature: float,
        top_p: float,
        seed: int | None = None,
        schema: dict[str, Any] | None = None,
    ) -> str:
        """One chat completion (JSON-constrained when ``schema`` is given); counts its tokens."""
        extra = {"response_format": {"type": "json_object", "schema": schema}} if schema is not None else {}
        reply = await self.client.chat.completions.create(
            model=self.settings.model,
            messages=[m.model_dump() for m in messages],  # type: ignore[misc]
            max_tokens=max_tokens,
            temperature=temperature,
            top_p=top_p,
            seed=seed,
            **extra,  # type: ignore[arg-type]
        )
        self.calls += 1
        if reply.usage is not None:
            self.prompt_tokens += reply.usage.prompt_tokens
            self.completion_tokens += reply.usage.completion_tokens
        return reply.choices[0].message.content or ""

    async def topics(self, problem: str) -> Plan | None:
        """The first planner call of a sample: is the problem hard, and what to look up; None when unusable."""
        text = await self._chat(planner_messages(problem), self.settings.plan_max_tokens, 0.0, 1.0, schema=PLAN_SCHEMA)
        try:
            return plan_from_text(text)
        except ParseError:
            return None

    async def plan(self, problem: str, topics: list[str]) -> str:
        """The second planner call of a hard problem: a plan from the search terms (the text inside <plan>)."""
        prompt = PLAN_FROM_TOPICS.format(problem=problem, topics=", ".join(topics))
        text = await self._chat([Message(role="user", content=prompt)], self.settings.plan_max_tokens, 0.0, 1.0)
        if "</plan>" in text:
            text = text.split("</plan>")[-2]
        return text.split("<plan>")[-1].strip()

    async def sample(self, problem: str, domain: str, seed: int | None) -> str:
        """One sample as the reference makes it: its own topics call, its own plan when hard, then the solver."""
        s = self.settings
        found = await self.topics(problem)
        plan = None
        if found is not None and found.is_hard:
            plan = Plan(is_hard=True, plan=await self.plan(problem, found.search_terms), search_terms=found.search_terms)
        messages = solver_messages(problem, plan, domain, s.demonstrations)
        return await self._chat(messages, s.max_tokens, s.temperature, s.top_p, seed)

    async def solve(self, problem: str, domain: str, seed: int | None) -> list[str]:
        """N samples in parallel; past the soft timeout, the ones finished so far (at least the first)."""
        s = self.settings
        tasks = [
            asyncio.create_task(self.sample(problem, domain, None if seed is None else seed + i)) for i in range(s.n)
        ]
        done, pending = await asyncio.wait(tasks, timeout=s.soft_timeout_s)
        if not done:
            done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        return [task.result() for task in tasks if task in done]

    async def judge(self, problem: str, candidates: list[str]) -> tuple[int, int]:
        """The linear chain: index of the survivor and the number of judge calls (N-1); ties keep the incumbent."""
        best, calls = 0, 0
        for challenger in range(1, len(candidates)):
            a, b = (verify.final_segment(candidates[i]).strip() for i in (best, challenger))
            messages = judge_messages(problem, a, b)
            text = await self._chat(messages, self.settings.judge_max_tokens, 0.0, 1.0, schema=VERDICT_SCHEMA)
            calls += 1
            try:
                if verdict_from_text(text).winner == "B":
                    best = challenger
            except ParseError:
                continue
        return best, calls

    async def run(self, problem: str, domain: str = "math", seed: int | None = None) -> FlowResult:
        """The whole flow under the hard timeout."""
        async with asyncio.timeout(self.settings.hard_timeout_s):
            return await self._run(problem, domain, seed)

    async def _run(self, problem: str, domain: str, seed: int | None) -> FlowResult:
        self.prompt_tokens = self.completion_tokens = self.calls = 0
        t0 = time.perf_counter()
        candidates = await self.solve(problem, domain, seed)
        t1 = time.perf_counter()
        selected, calls = await self.judge(problem, candidates)
        t2 = time.perf_counter()
        return FlowResult(
            answer=extract_answer(domain, candidates[selected]),
            candidates=candidates,
            selected=selected,
            judge_calls=calls,
            calls=self.calls,
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            seconds=t2 - t0,
            timings_s={"plan+solve": t1 - t0, "select": t2 - t1, "total": t2 - t0},
        )
