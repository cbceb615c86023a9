"""Orchestration of one request: plan, sample candidates in waves, select; deadlines, streaming events, usage."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass, field

from k2core import tracing, verify
from k2core.config import EngineSettings, Settings
from k2core.engines.base import Engine
from k2core.errors import DeadlineError, EngineError, UnavailableError
from k2core.pipeline.events import (
    CandidateDeltaEvent,
    CandidateDoneEvent,
    FinalEvent,
    PlanEvent,
    SolveEvent,
    VerdictEvent,
)
from k2core.pipeline.request import SolveRequest
from k2core.pipeline.select import PairJudgeFn, group_answers, judged_text, select
from k2core.pipeline.solver import solver_messages
from k2core.pipeline.usage import priced, usage_of
from k2core.roles import Judge, Planner, PlanOutcome, Solver
from k2core.types import (
    Candidate,
    Completion,
    Message,
    SamplingParams,
    SolveResult,
    Usage,
    Verdict,
)

Emit = Callable[[SolveEvent], None]
_ROLES = ("planner", "solver", "judge")


@dataclass
class _Run:
    """Mutable state of one request while it runs."""

    request: SolveRequest
    emit: Emit | None
    started: float = field(default_factory=time.perf_counter)
    usage: dict[str, Usage] = field(default_factory=lambda: {role: Usage() for role in _ROLES})
    timings: dict[str, float] = field(default_factory=dict)
    soft_hit: bool = False

    def send(self, event: SolveEvent) -> None:
        if self.emit is not None:
            self.emit(event)

    def soft_left(self) -> float | None:
        """Seconds until the soft deadline, or None without one."""
        soft = self.request.soft_deadline_s
        return None if soft is None else soft - (time.perf_counter() - self.started)


Decided = Callable[[dict[int, Candidate]], bool]


@dataclass(frozen=True)
class _Wave:
    """One wave of candidates: the conversation, its sampling, how many from which index, and the early stop."""

    messages: list[Message]
    params: SamplingParams
    size: int
    offset: int
    decided: Decided | None = None


class Pipeline:
    """Planner → best-of-N solver → judge selection, over any implementation of the three roles."""

    def __init__(
        self, planner: Planner, solver: Solver, judge: Judge, settings: Settings, engines: tuple[Engine, ...] = ()
    ) -> None:
        self.planner, self.solver, self.judge, self.settings = planner, solver, judge, settings
        self.engines = engines

    @classmethod
    def in_process(cls, settings: Settings) -> Pipeline:
        """Local roles over engines from the factory; roles with identical engine settings share one engine."""
        from k2core.engines import build_engine
        from k2core.pipeline.judge import EngineJudge
        from k2core.pipeline.planner import EnginePlanner
        from k2core.pipeline.solver import EngineSolver

        built: list[tuple[EngineSettings, Engine]] = []

        def engine_for(role: str) -> Engine:
            wanted = getattr(settings, role)
            for known, engine in built:
                if known == wanted:
                    return engine
            engine = build_engine(wanted, cache_dir=settings.cache_dir)
            built.append((wanted, engine))
            return engine

        p = settings.pipeline
        planner = EnginePlanner(engine_for("planner"), max_tokens=p.plan_max_tokens)
        solver = EngineSolver(engine_for("solver"))
        judge = EngineJudge(engine_for("judge"), max_tokens=p.judge_max_tokens, calibrate=p.judge_calibrate)
        return cls(planner, solver, judge, settings, engines=tuple(engine for _, engine in built))

    def warm_up(self) -> None:
        """Load the default domain's grader now (math-verify's first use takes seconds), not in the first request."""
        verify.get_grader(self.settings.pipeline.domain).same_answer("1", "1")

    async def close(self) -> None:
        """Close the engines this pipeline built."""
        for engine in self.engines:
            await engine.close()

    async def __aenter__(self) -> Pipeline:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def validate(self, request: SolveRequest) -> None:
        """Raise ValidationError naming the first bad field of ``request`` (max_tokens against the solver engine)."""
        request.check(self.settings, self.solver.context_tokens)

    async def solve(self, request: SolveRequest) -> SolveResult:
        """Solve one request; raises ValidationError before any work, DeadlineError past the hard deadline."""
        self.validate(request)
        return await self._run(_Run(request.with_docstring_tests(), emit=None))

    async def events(self, request: SolveRequest) -> AsyncIterator[SolveEvent]:
        """Solve one request, yielding stage events as they happen; the last one is a FinalEvent."""
        self.validate(request)
        queue: asyncio.Queue[SolveEvent | None] = asyncio.Queue()
        task = asyncio.create_task(self._run(_Run(request.with_docstring_tests(), emit=queue.put_nowait)))
        task.add_done_callback(lambda _: queue.put_nowait(None))
        try:
            while (event := await queue.get()) is not None:
                yield event
            yield FinalEvent(result=task.result())
        finally:
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    async def _run(self, run: _Run) -> SolveResult:
        """The whole request under its hard deadline."""
        hard = run.request.hard_deadline_s
        try:
            async with asyncio.timeout(hard) as scope:
                return await self._stages(run)
        except TimeoutError as exc:
            if scope.expired():
                raise DeadlineError(f"hard deadline of {hard} s passed") from exc
            raise

    async def _stages(self, run: _Run) -> SolveResult:
        """Plan, solve, select, and assemble the result."""
        request = run.request
        t0 = time.perf_counter()
        outcome = await self._plan(request) if request.plan else PlanOutcome(plan=None)
        run.usage["planner"] = outcome.usage
        if request.plan:
            run.send(PlanEvent(plan=outcome.plan, error=outcome.error, usage=outcome.usage))
        t1 = time.perf_counter()
        messages = solver_messages(
            request.problem, outcome.plan, request.domain, request.demonstrations, request.system
        )
        candidates = await self._sample(run, messages)
        if not candidates:
            raise UnavailableError("the solver returned no candidates")
        t2 = time.perf_counter()
        with tracing.span("select", candidates=len(candidates)) as span:
            candidates = await self._score(request, candidates)
            selection = await select(
                request.domain,
                candidates,
                self._judge_fn(run) if request.judge else None,
                lambda comparison: run.send(VerdictEvent(comparison=comparison)),
            )
            span.set_attribute("method", selection.method)
        t3 = time.perf_counter()
        chosen = next(c for c in candidates if c.index == selection.selected)
        run.timings.update(plan=t1 - t0, solve=t2 - t1, select=t3 - t2, total=t3 - run.started)
        return SolveResult(
            answer=chosen.answer,
            final_text=verify.final_segment(chosen.text).strip(),
            plan=outcome.plan,
            plan_error=outcome.error,
            candidates=candidates,
            selected=chosen.index,
            selection=selection,
            usage=self._priced_usage(run.usage),
            timings_s=run.timings,
            deadline="soft" if run.soft_hit else "none",
        )

    async def _plan(self, request: SolveRequest) -> PlanOutcome:
        """Ask the planner; an engine failure means no plan (with the reason), not a failed request."""
        with tracing.span("plan"):
            try:
                return await self.planner.plan(request.problem)
            except (EngineError, UnavailableError) as exc:
                return PlanOutcome(plan=None, error=f"planner failed: {exc}")

    async def _sample(self, run: _Run, messages: list[Message]) -> list[Candidate]:
        """Sample candidates in waves until N, agreement (adaptive), the token budget or the soft deadline."""
        request, p = run.request, self.settings.pipeline
        wave_size = max(1, min(p.adaptive_wave, request.n)) if request.adaptive else request.n
        decided = self._early_majority(run)
        candidates: list[Candidate] = []
        while len(candidates) < request.n and not run.soft_hit:
            size = min(wave_size, request.n - len(candidates))
            params = _wave_params(request.params, len(candidates))
            with tracing.span("candidates", n=size, offset=len(candidates)):
                finished = await self._wave(run, _Wave(messages, params, size, len(candidates), decided))
            candidates += [finished[i] for i in sorted(finished)]
            run.usage["solver"] = run.usage["solver"].add(usage_of(finished.values(), calls=size))
            if decided is not None or not finished:  # one wave settles it (early majority), or the solver gave none
                break
            if request.adaptive and _largest_agreement(request.domain, candidates) >= p.adaptive_agree:
                break
            if request.token_budget is not None and _generated(run.usage) >= request.token_budget:
                break
        return candidates

    def _early_majority(self, run: _Run) -> Decided | None:
        """For one full wave of N >= 3 selected by agreement (no verifier scores to wait for): whether the finished
        candidates already hold a strict majority of all N. Then selection is decided (no unfinished candidate can
        form a larger group) and the rest are cancelled. None when early majority does not apply."""
        request = run.request
        applies = request.n >= 3 and not request.adaptive and request.public_tests is None
        if not (applies and self.settings.pipeline.early_majority):
            return None
        domain, n = request.domain, request.n

        def decided(finished: dict[int, Candidate]) -> bool:
            return 2 * _largest_agreement(domain, list(finished.values())) > n

        return decided

    async def _wave(self, run: _Run, wave: _Wave) -> dict[int, Candidate]:
        """One wave of candidates; streamed when events, a soft deadline or an early majority need to see
        candidates finish one by one."""
        if run.emit is None and run.request.soft_deadline_s is None and wave.decided is None:
            completions = await self.solver.generate(wave.messages, wave.params, wave.size)
            return {wave.offset + i: self._candidate(run, wave.offset + i, c) for i, c in enumerate(completions)}
        finished: dict[int, Candidate] = {}
        first_is_enough = asyncio.Event()
        task = asyncio.create_task(self._stream_wave(run, wave, finished, first_is_enough))
        try:
            done, _ = await asyncio.wait({task}, timeout=_positive(run.soft_left()))
            if not done:
                run.soft_hit = True
                if finished:
                    task.cancel()
                else:
                    first_is_enough.set()
                await asyncio.wait({task})
            if not task.cancelled():
                task.result()
        finally:
            if not task.done():
                task.cancel()
                await asyncio.wait({task})
        return finished

    async def _stream_wave(
        self, run: _Run, wave: _Wave, finished: dict[int, Candidate], first_is_enough: asyncio.Event
    ) -> None:
        """Stream a wave into ``finished``, emitting deltas; stop after the first finish once told to, or once
        ``wave.decided`` says the finished candidates settle the selection (closing the stream cancels the rest)."""
        texts: dict[int, list[str]] = {}
        start = time.perf_counter()
        # Role streams are async generators; closing one stops its sequences.
        async with aclosing(self.solver.stream(wave.messages, wave.params, wave.size)) as deltas:
            async for item in deltas:
                index, delta = wave.offset + item.index, item.delta
                if delta.text:
                    texts.setdefault(index, []).append(delta.text)
                    run.send(CandidateDeltaEvent(index=index, text=delta.text))
                if delta.finish_reason is None:
                    continue
                completion = Completion(
                    text="".join(texts.get(index, [])),
                    finish_reason=delta.finish_reason,
                    prompt_tokens=delta.prompt_tokens,
                    completion_tokens=delta.completion_tokens,
                    seconds=time.perf_counter() - start,
                )
                finished[index] = self._candidate(run, index, completion)
                if first_is_enough.is_set() or (wave.decided is not None and wave.decided(finished)):
                    return

    def _candidate(self, run: _Run, index: int, completion: Completion) -> Candidate:
        """A Candidate with its extracted answer; announced as a CandidateDoneEvent and recorded as a span."""
        tracing.record_span(
            "candidate", completion.seconds, index=index, completion_tokens=completion.completion_tokens
        )
        candidate = Candidate(
            index=index,
            text=completion.text,
            answer=verify.extract_answer(run.request.domain, completion.text),
            finish_reason=completion.finish_reason,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            seconds=completion.seconds,
        )
        run.send(CandidateDoneEvent(candidate=candidate))
        return candidate

    async def _score(self, request: SolveRequest, candidates: list[Candidate]) -> list[Candidate]:
        """Verifier scores against the request's public tests (code), graded concurrently in the sandbox."""
        if request.public_tests is None or request.domain != "code":
            return candidates
        scores = await asyncio.gather(
            *(asyncio.to_thread(verify.grade, "code", c.text, request.public_tests) for c in candidates)
        )
        return [c.model_copy(update={"verifier_score": s.score}) for c, s in zip(candidates, scores, strict=True)]

    def _judge_fn(self, run: _Run) -> PairJudgeFn:
        """Compare two candidates' final answers in both orders (one judge call, two model calls); usage is
        accounted, and a failed call is a tie in both orders with the reason."""

        async def judge(a: Candidate, b: Candidate) -> tuple[Verdict, Verdict]:
            final_a, final_b = judged_text(a), judged_text(b)
            try:
                with tracing.span("judge", a=a.index, b=b.index):
                    pair = await self.judge.compare_both(run.request.problem, final_a, final_b)
            except (EngineError, UnavailableError) as exc:
                run.usage["judge"] = run.usage["judge"].add(Usage(calls=2))
                tie = Verdict(winner="tie", reason=f"judge failed: {exc}")
                return tie, tie
            for outcome in (pair.ab, pair.ba):
                run.usage["judge"] = run.usage["judge"].add(outcome.usage.model_copy(update={"calls": 1}))
            return pair.ab.verdict, pair.ba.verdict

        return judge

    def _priced_usage(self, usage: dict[str, Usage]) -> dict[str, Usage]:
        """Per-role usage with cost from configured prices, plus the total."""
        roles = {role: priced(usage[role], getattr(self.settings, role)) for role in _ROLES}
        total = Usage()
        for role_usage in roles.values():
            total = total.add(role_usage)
        return {**roles, "total": total}


def _wave_params(params: SamplingParams, offset: int) -> SamplingParams:
    """Sampling parameters of a wave starting at candidate ``offset``: seeds stay distinct across waves."""
    return params if params.seed is None else params.with_seed(params.seed + offset)


def _largest_agreement(domain: str, candidates: list[Candidate]) -> int:
    """Size of the largest group of candidates with equivalent (non-empty) answers."""
    by_index = {c.index: c for c in candidates}
    sizes = [len(g) for g in group_answers(domain, candidates) if by_index[g[0]].answer is not None]
    return max(sizes, default=0)


def _generated(usage: dict[str, Usage]) -> int:
    """Completion tokens generated so far by the planner and the solver."""
    return usage["planner"].completion_tokens + usage["solver"].completion_tokens


def _positive(seconds: float | None) -> float | None:
    """A non-negative timeout, or None for no timeout."""
    return None if seconds is None else max(0.0, seconds)
