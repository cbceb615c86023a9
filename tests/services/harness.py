"""An in-process stack for service tests: real servers and clients on free ports over a scripted fast engine."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from k2core.pipeline.judge import EngineJudge
from k2core.pipeline.planner import EnginePlanner
from k2core.pipeline.solver import EngineSolver
from k2core.types import Completion, Delta, Message, SamplingParams
from services import calls, runtime
from services.gateway import server as gateway
from services.judge import server as judge
from services.planner import server as planner
from services.settings import ServiceSettings
from services.solver import server as solver

PLAN = {"is_hard": False, "plan": "Add the two numbers.", "search_terms": ["addition"]}


@dataclass
class FakeEngine:
    """Plans, verdicts and answers by prompt kind; the answer depends on the seed's parity so judges get work.

    ``word_delay_s`` slows every word; counters show started, finished and cancelled generations, and
    ``remaining`` records the request deadline each generation saw.
    """

    word_delay_s: float = 0.0
    name: str = "fake"
    supports_json_schema: bool = True
    context_tokens: int | None = 8192
    started: int = 0
    finished: int = 0
    cancelled: int = 0
    active: int = 0
    remaining: list[float | None] = field(default_factory=list)
    conversations: list[list[Message]] = field(default_factory=list)

    def text(self, params: SamplingParams) -> str:
        properties = (params.json_schema or {}).get("properties", {})
        if "is_hard" in properties:
            return json.dumps(PLAN)
        if "winner" in properties:
            return json.dumps({"winner": "A", "confidence": 0.8, "reason": "A is right"})
        answer = 4 if (params.seed or 0) % 2 == 0 else 5
        return f"<think>2 plus 2 makes {answer}.</think> The answer is \\boxed{{{answer}}}."

    async def generate(self, messages: list[Message], params: SamplingParams, n: int = 1) -> list[Completion]:
        seeds = [None if params.seed is None else params.seed + i for i in range(n)]
        return list(await asyncio.gather(*(self._one(messages, params.with_seed(s)) for s in seeds)))

    async def _one(self, messages: list[Message], params: SamplingParams) -> Completion:
        parts = [d async for d in self.stream(messages, params)]
        return Completion(
            text="".join(d.text for d in parts),
            prompt_tokens=parts[-1].prompt_tokens,
            completion_tokens=parts[-1].completion_tokens,
        )

    async def stream(self, messages: list[Message], params: SamplingParams) -> AsyncIterator[Delta]:
        self.started += 1
        self.active += 1
        self.remaining.append(calls.remaining_s())
        self.conversations.append(list(messages))
        words = self.text(params).split(" ")
        try:
            for i, word in enumerate(words):
                await asyncio.sleep(self.word_delay_s)
                yield Delta(text=word if i == 0 else " " + word)
            self.finished += 1
            yield Delta(
                finish_reason="stop", prompt_tokens=len(messages[-1].content.split()), completion_tokens=len(words)
            )
        except (asyncio.CancelledError, GeneratorExit):
            self.cancelled += 1
            raise
        finally:
            self.active -= 1

    async def load(self) -> None:
        return None

    async def health(self) -> bool:
        return True

    async def close(self) -> None:
        return None


def make_settings(**server: object) -> ServiceSettings:
    """Defaults with every port free (0) and quick drains; ``server`` overrides ServerSettings fields."""
    settings = ServiceSettings()
    update = {
        "planner_port": 0,
        "solver_port": 0,
        "judge_port": 0,
        "gateway_grpc_port": 0,
        "gateway_http_port": 0,
        "grace_period_s": 2.0,
        **server,
    }
    return settings.model_copy(update={"server": settings.server.model_copy(update=update)})


@dataclass
class Stack:
    """Planner, solver(s), judge and gateway servers in this process."""

    settings: ServiceSettings
    engine: FakeEngine
    roles: dict[str, runtime.GrpcServer]
    solvers: list[runtime.GrpcServer]
    solver_engines: list[FakeEngine]
    gateway: runtime.Service
    closers: list[runtime.Closer]

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.gateway.grpc.port}"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.gateway.http['http'].port}"

    async def stop(self) -> None:
        await self.gateway.stop(0.5)
        for close in self.closers:
            await close()
        for server in [*self.roles.values(), *self.solvers]:
            await server.stop(0)  # the role's own health server too, when ``health_port`` is set


async def start_stack(
    settings: ServiceSettings | None = None, engine: FakeEngine | None = None, solver_replicas: int = 1
) -> Stack:
    """Start roles over ``engine`` (extra solver replicas get engines of their own) and a gateway; free ports."""
    settings = settings or make_settings()
    engine = engine or FakeEngine()
    roles = {
        "planner": planner.create(EnginePlanner(engine), settings, 0),
        "judge": judge.create(EngineJudge(engine), settings, 0),
    }
    solver_engines = [engine] + [FakeEngine(word_delay_s=engine.word_delay_s) for _ in range(solver_replicas - 1)]
    solvers = [solver.create(EngineSolver(e), settings, 0) for e in solver_engines]
    for server in [*roles.values(), *solvers]:
        await server.start()
    addresses = {
        "planner_address": f"127.0.0.1:{roles['planner'].port}",
        "judge_address": f"127.0.0.1:{roles['judge'].port}",
        "solver_addresses": [f"127.0.0.1:{s.port}" for s in solvers],
    }
    settings = settings.model_copy(update={"server": settings.server.model_copy(update=addresses)})
    pipeline, closers = gateway.remote_pipeline(settings)
    service = gateway.create(pipeline, settings, 0, 0)
    await service.start()
    return Stack(settings, engine, roles, solvers, solver_engines, service, closers)
