"""The K2-Think reference control flow (the public K2-Think-Inference ``main.py``), re-created against an
OpenAI-compatible server with its own prompts and sampling settings.

Per request, N samples run concurrently and each plans for itself: a planner call with a JSON schema
``{is_hard_problem, plan, search_list}`` decides whether the question is hard; when it is, a second planner call
writes a plan from the search list, inside ``<plan>``; the solver call (system prompt asking for ``<think>`` and
``<answer>`` tags, temperature 1.0) gets the question with those ideas. A *linear* chain of pairwise judge calls
(JSON schema ``{index, explanation}``) then walks all N slots: the incumbent meets each next sample once, each
compared on its text after ``</think>``. The soft timeout (``main.py`` passes 1200 s) keeps the samples finished
by then; a sample that did not finish still takes part in the chain as "no answer", as it does there.

Prompts are paraphrases of the published ones (same intent, structure and length; no text copied). Planner and
judge calls set no temperature and no token cap, so the server's defaults apply, as in ``main.py``; the solver sets
only temperature 1.0 (plus a seed here, for repeatable runs). JSON schemas go as vLLM's ``guided_json``, as there.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from openai import AsyncOpenAI

from k2core.types import Message

SOLVER_SYSTEM = (
    "You are K2-Think, an assistant built by MBZUAI to be helpful. Before you respond to what the user asks, you "
    "work through your reasoning, and only then give the answer. Put the reasoning between <think> and </think> and the "
    "answer between <answer> and </answer>, in this form: <think> your reasoning goes here </think> <answer> your "
    "answer goes here </answer>."
)
TOPICS = (
    "Decide first whether the user is posing a difficult math, science, engineering or programming problem, or some "
    "other question you could only answer after gathering facts from the web. If so, write a plan, followed by a "
    "JSON list of at most four things you would look up to help you crack this difficult problem: {question} "
    'A useful thing to look up would be "Convergence criteria for sums of powers over primes and composites" or '
    '"Proving counting problems by inclusion and exclusion"'
)
PLAN_FROM_TOPICS = (
    "Here is a question together with some topics that may be useful:\n<question>{question}</question>\n"
    "<topics>{topics}</topics>\nUsing the topics above, write out a plan for solving the question WITHOUT revealing "
    "its answer or any likely answer. DO NOT state the answer, or drop any hint about what it might be, anywhere "
    "in the plan. Put the plan between <plan> and </plan>."
)
SOLVER_WITH_IDEAS = (
    "<question>{question}</question>\nHere are a few ideas or insights that may help:\n<ideas>{ideas}</ideas>\n"
    "These ideas could shed some light on how to solve the problem. Now answer the question above."
)
JUDGE_SYSTEM = (
    "You are a demanding grader. You will see one question followed by two responses; reply with a JSON object "
    "whose 'better_index' is 0 or 1, naming the response that answers the question best."
)
JUDGE_USER = "Question: {question}\nResponse 0: {a}\nResponse 1: {b}"
NO_ANSWER = "No answer."
NO_FINAL = "No final answer was given; this is how the working ended: {tail}"
TOPICS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "is_hard_problem": {"type": "boolean"},
        "plan": {"type": "string"},
        "search_list": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["is_hard_problem", "plan", "search_list"],
}
VERDICT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"index": {"type": "integer"}, "explanation": {"type": "string"}},
    "required": ["index", "explanation"],
}


@dataclass(frozen=True)
class FlowSettings:
    """N, the solver's temperature, an optional solver token cap (``main.py`` sets none) and the timeouts
    ``main.py`` runs with (soft 1200 s, hard 120 min)."""

    model: str
    n: int = 3
    temperature: float = 1.0
    max_tokens: int | None = None
    soft_timeout_s: float = 1200.0
    hard_timeout_s: float = 7200.0


@dataclass
class FlowResult:
    """Every sample slot (None where a sample did not finish), the chosen one, and what the flow cost."""

    candidates: list[str | None]
    selected: int
    judge_calls: int = 0
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    timings_s: dict[str, float] = field(default_factory=dict)

    @property
    def chosen(self) -> str:
        """The chosen sample's text ("" when that slot has none)."""
        return self.candidates[self.selected] or ""


def judged_text(candidate: str | None) -> str:
    """What the judge sees of a sample: its text after ``</think>``, or a stand-in when it has none."""
    if candidate is None:
        return NO_ANSWER
    if "</think>" in candidate:
        return candidate.split("</think>")[1]
    return NO_FINAL.format(tail=candidate[-2000:])


class ReferenceFlow:
    """N concurrent samples, each planning for itself (topics, a plan when hard, the solver) → linear judge chain."""

    def __init__(self, client: AsyncOpenAI, settings: FlowSettings) -> None:
        self.client, self.settings = client, settings
        self.prompt_tokens = self.completion_tokens = self.calls = 0

    async def _chat(self, messages: list[Message], **options: Any) -> str:
        """One chat completion with only the options given; counts its tokens."""
        reply = await self.client.chat.completions.create(
            model=self.settings.model, messages=[m.model_dump() for m in messages], **options  # type: ignore[misc]
        )
        self.calls += 1
        if reply.usage is not None:
            self.prompt_tokens += reply.usage.prompt_tokens
            self.completion_tokens += reply.usage.completion_tokens
        return reply.choices[0].message.content or ""

    async def topics(self, question: str) -> list[str] | None:
        """The first planner call of a sample: the search list when the problem is hard, else None."""
        prompt = TOPICS.format(question=question)
        text = await self._chat([Message(role="user", content=prompt)], extra_body={"guided_json": TOPICS_SCHEMA})
        body = json.loads(text)
        return list(body["search_list"]) if body["is_hard_problem"] else None

    async def ideas(self, question: str, topics: list[str]) -> str:
        """The second planner call of a hard problem: a plan from the topics (the text inside ``<plan>``)."""
        prompt = PLAN_FROM_TOPICS.format(question=question, topics=topics)
        text = await self._chat(
            [Message(role="user", content=prompt)], extra_body={"chat_template_kwargs": {"enable_thinking": False}}
        )
        if "</plan>" in text:
            text = text.split("</plan>")[-2]
            if "<plan>" in text:
                text = text.split("<plan>")[-1]
        return text

    async def sample(self, question: str, seed: int | None) -> str:
        """One sample: its own topics call, its own plan when hard, then the solver."""
        topics = await self.topics(question)
        prompt = question
        if topics is not None:
            prompt = SOLVER_WITH_IDEAS.format(question=question, ideas=await self.ideas(question, topics))
        options: dict[str, Any] = {"temperature": self.settings.temperature, "seed": seed}
        if self.settings.max_tokens is not None:
            options["max_tokens"] = self.settings.max_tokens
        messages = [Message(role="system", content=SOLVER_SYSTEM), Message(role="user", content=prompt)]
        return await self._chat(messages, **options)

    async def solve(self, question: str, seed: int | None) -> list[str | None]:
        """N samples concurrently; past the soft timeout, the ones finished by then (waiting for at least one).
        A sample that failed or did not finish leaves its slot empty."""
        s = self.settings
        tasks = [asyncio.ensure_future(self.sample(question, None if seed is None else seed + i)) for i in range(s.n)]
        try:
            done, _ = await asyncio.wait(tasks, timeout=s.soft_timeout_s)
            while not any(t.exception() is None for t in done):
                if len(done) == len(tasks):
                    raise RuntimeError(f"every sample failed: {tasks[0].exception()}")
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
        return [t.result() if t in done and t.exception() is None else None for t in tasks]

    async def judge(self, question: str, candidates: list[str | None]) -> tuple[int, int]:
        """The linear chain over every slot: the survivor's index and the judge calls made (N-1)."""
        answers = [judged_text(c) for c in candidates]
        best, calls = 0, 0
        for challenger in range(1, len(candidates)):
            messages = [
                Message(role="system", content=JUDGE_SYSTEM),
                Message(role="user", content=JUDGE_USER.format(question=question, a=answers[best], b=answers[challenger])),
            ]
            text = await self._chat(messages, extra_body={"guided_json": VERDICT_SCHEMA})
            calls += 1
            if json.loads(text)["index"] == 1:
                best = challenger
        return best, calls

    async def run(self, question: str, seed: int | None = None) -> FlowResult:
        """The whole flow under the hard timeout."""
        async with asyncio.timeout(self.settings.hard_timeout_s):
            return await self._run(question, seed)

    async def _run(self, question: str, seed: int | None) -> FlowResult:
        self.prompt_tokens = self.completion_tokens = self.calls = 0
        t0 = time.perf_counter()
        candidates = await self.solve(question, seed)
        t1 = time.perf_counter()
        selected, calls = await self.judge(question, candidates)
        t2 = time.perf_counter()
        return FlowResult(
            candidates=candidates,
            selected=selected,
            judge_calls=calls,
            calls=self.calls,
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            seconds=t2 - t0,
            timings_s={"plan+solve": t1 - t0, "select": t2 - t1, "total": t2 - t0},
        )
