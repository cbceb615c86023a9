"""Scripted fakes for eval tests: a solve function (answers per problem and call, failures, delays) and a judge."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from k2core.data.problem import Problem
from k2core.pipeline.request import SolveRequest
from k2core.roles import JudgeBase, JudgeOutcome
from k2core.types import Candidate, Selection, SolveResult, Usage, Verdict

AnswerFn = Callable[[Problem, int], Sequence[str]]


def result_of(answers: Sequence[str], selected: int = 0, tokens: int = 10) -> SolveResult:
    """A SolveResult whose candidates box ``answers``; candidate ``selected`` is returned."""
    candidates = [
        Candidate(index=i, text=f"So it is \\boxed{{{a}}}", answer=a, completion_tokens=tokens + i)
        for i, a in enumerate(answers)
    ]
    usage = {
        "planner": Usage(prompt_tokens=5, completion_tokens=7, calls=1),
        "solver": Usage(prompt_tokens=10, completion_tokens=sum(c.completion_tokens for c in candidates), calls=len(answers)),
        "judge": Usage(calls=2),
    }
    usage["total"] = usage["planner"].add(usage["solver"]).add(usage["judge"])
    return SolveResult(
        answer=answers[selected],
        final_text=candidates[selected].text,
        plan=None,
        candidates=candidates,
        selected=selected,
        selection=Selection(method="majority", selected=selected),
        usage=usage,
        timings_s={"plan": 0.01, "solve": 0.02, "select": 0.0, "total": 0.03},
    )


class FakeSolve:
    """Solves by prompt lookup; ``answers(problem, call_no)`` gives the candidates; ``fail`` problems raise."""

    def __init__(self, problems: Sequence[Problem], answers: AnswerFn, fail: set[str] = frozenset(), delay: float = 0.0):
        self.by_prompt = {p.prompt: p for p in problems}
        self.answers, self.fail, self.delay = answers, fail, delay
        self.calls: list[tuple[str, int | None]] = []

    async def __call__(self, request: SolveRequest) -> SolveResult:
        problem = self.by_prompt[request.problem]
        self.calls.append((problem.id, request.params.seed))
        await asyncio.sleep(self.delay)
        if problem.id in self.fail:
            raise RuntimeError(f"backend down for {problem.id}")
        return result_of(self.answers(problem, len(self.calls))[: request.n])


class TruthJudge(JudgeBase):
    """Prefers the answer that boxes the ground truth (whatever the order); a tie when both or neither do."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.truth = {p.prompt: f"\\boxed{{{p.answer}}}" for p in problems}
        self.calls = 0

    async def compare(self, problem: str, a: str, b: str) -> JudgeOutcome:
        self.calls += 1
        good_a, good_b = self.truth[problem] in a, self.truth[problem] in b
        winner = "A" if good_a and not good_b else "B" if good_b and not good_a else "tie"
        return JudgeOutcome(verdict=Verdict(winner=winner, confidence=1.0))
