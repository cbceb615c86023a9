"""The systems under test, each a ``SystemFn`` (problem, seed) → Outcome: the re-created reference flow, the
published reference script, optillm's best-of-n proxy, and k2think through its gateway. Tokens are counted at the
backend by the runner; a system reports correctness, judge calls and candidates."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from openai import AsyncOpenAI

from bench.headtohead.outcome import Outcome, SystemFn, graded
from bench.headtohead.script import run_script
from bench.headtohead.workload import Workload
from bench.reference_flow import FlowSettings, ReferenceFlow
from k2core.data import Problem
from k2core.pipeline import SolveRequest
from k2core.pipeline.solver import solver_messages
from k2core.types import SamplingParams, SolveResult

ALIAS = "qwen2.5-coder-0.5b-instruct"
KEY = "sk-local-bench"
_OPTILLM_SAMPLES = re.compile(r"Generated (\d+) (?:initial )?completions")


def reference_system(backend_url: str, work: Workload) -> SystemFn:
    """The reference control flow re-created with its own prompts and settings (``bench/reference_flow.py``)."""
    settings = FlowSettings(model=ALIAS, n=work.n, max_tokens=work.reference_max_tokens)
    flow = ReferenceFlow(AsyncOpenAI(base_url=backend_url, api_key=KEY, timeout=None), settings)

    async def run(problem: Problem, seed: int) -> Outcome:
        result = await flow.run(problem.prompt, seed)
        return flow_outcome(problem, result)

    return run


def flow_outcome(problem: Problem, result: Any) -> Outcome:
    """A reference-shaped result (chosen text, judge calls, candidate texts) graded against the problem."""
    return Outcome(
        correct=graded(problem, result.chosen),
        judge_calls=result.judge_calls,
        candidates=sum(c is not None for c in result.candidates),
        candidates_correct=[graded(problem, text) for text in result.candidates],
    )


def script_system(module: ModuleType) -> SystemFn:
    """The published ``main.py`` itself (loaded by ``bench.headtohead.script``); it takes no seed."""

    async def run(problem: Problem, seed: int) -> Outcome:
        result = await run_script(module, problem.prompt)
        return flow_outcome(problem, result)

    return run


def optillm_system(proxy_url: str, log: Path, work: Workload) -> SystemFn:
    """optillm's best-of-n through its proxy, given k2think's solver prompt and the same candidate limits; the
    candidates it rated are read from its log (one rating call each)."""
    client = AsyncOpenAI(base_url=proxy_url, api_key=KEY, timeout=None)

    async def run(problem: Problem, seed: int) -> Outcome:
        seen = optillm_samples(log.read_text(errors="replace"))
        messages = [m.model_dump() for m in solver_messages(problem.prompt, None, problem.domain)]
        reply = await client.chat.completions.create(
            model=ALIAS, messages=messages, max_tokens=work.max_tokens, temperature=work.temperature,  # type: ignore[arg-type]
            top_p=work.top_p, seed=seed,
        )  # fmt: skip
        samples = optillm_samples(log.read_text(errors="replace")) - seen
        return Outcome(
            correct=graded(problem, reply.choices[0].message.content), judge_calls=samples, candidates=samples
        )

    return run


def optillm_samples(log_text: str) -> int:
    """Completions optillm's log reports having sampled so far."""
    return sum(int(m) for m in _OPTILLM_SAMPLES.findall(log_text))


def k2think_system(solve: Callable[[SolveRequest], Awaitable[SolveResult]], work: Workload, adaptive: bool) -> SystemFn:
    """k2think in its default configuration: plan, best-of-N, verifier/majority/both-order knockout selection."""

    async def run(problem: Problem, seed: int) -> Outcome:
        params = SamplingParams(temperature=work.temperature, top_p=work.top_p, max_tokens=work.max_tokens, seed=seed)
        request = SolveRequest(problem=problem.prompt, n=work.n, params=params, domain=problem.domain, adaptive=adaptive)
        result = await solve(request)
        chosen = next(c for c in result.candidates if c.index == result.selected)
        return Outcome(
            correct=graded(problem, chosen.text),
            judge_calls=result.usage["judge"].calls,
            candidates=len(result.candidates),
            candidates_correct=[graded(problem, c.text) for c in result.candidates],
        )

    return run
