"""Run the services: one role in this process (``k2think serve``), or all four as child processes (``k2think up``)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from k2core.config import EngineSettings
from k2core.pipeline.judge import EngineJudge
from k2core.pipeline.planner import EnginePlanner
from k2core.pipeline.solver import EngineSolver
from services import runtime
from services.gateway import server as gateway
from services.judge import server as judge
from services.planner import server as planner
from services.remote import Client
from services.settings import ServiceSettings
from services.solver import server as solver

ROLES = ("planner", "solver", "judge", "gateway")
# A planner or judge process makes one sequence per call: one KV slot (n_ctx cells) instead of the solver's four
# saves ~600 MiB across the two (bench/results/services.json). Only where the process serves that role alone: the
# in-process pipeline shares one engine between roles with equal settings, and that engine keeps its slots.
SINGLE_SEQUENCE_ROLES = ("planner", "judge")
# glibc makes a malloc arena per thread up to 8 x cores; a service has an event loop, gRPC's poller and a decode
# thread, and two arenas serve them: 18 MiB less PSS across the stack (bench/results/services.json).
MALLOC_ARENA = "2"
RESTART_BACKOFF_S = 1.0  # first wait before restarting a role that exited; doubles on each exit in a row
RESTART_BACKOFF_MAX_S = 30.0
RESTART_STABLE_S = 60.0  # a role up this long starts again from the first backoff


def build_service(role: str, settings: ServiceSettings) -> runtime.Service:
    """One role's servers as configured: the gateway over remote roles, the others over their engine."""
    s, p = settings.server, settings.pipeline
    if role == "gateway":
        pipeline, closers = gateway.remote_pipeline(settings)
        service = gateway.create(pipeline, settings, s.gateway_grpc_port, s.gateway_http_port)
        service.closers += closers
        return service
    from k2core.engines import build_engine

    engine = build_engine(service_engine_settings(role, settings), cache_dir=settings.cache_dir)
    if role == "planner":
        server = planner.create(EnginePlanner(engine, max_tokens=p.plan_max_tokens), settings, s.planner_port)
    elif role == "solver":
        server = solver.create(EngineSolver(engine), settings, s.solver_port)
    elif role == "judge":
        server = judge.create(
            EngineJudge(engine, max_tokens=p.judge_max_tokens, calibrate=p.judge_calibrate), settings, s.judge_port
        )
    else:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    server.watch(engine)
    metrics = runtime.metrics_server(s.host, getattr(s, f"{role}_metrics_port"), settings.limits)
    return runtime.Service(server, {"metrics": metrics}, [engine.close])


def service_engine_settings(role: str, settings: ServiceSettings) -> EngineSettings:
    """The engine settings of a dedicated ``role`` process: a planner or judge gets one embedded KV slot unless
    ``K2_<ROLE>__EMBEDDED__MAX_SEQUENCES`` says otherwise."""
    configured: EngineSettings = getattr(settings, role)
    embedded = configured.embedded
    if role not in SINGLE_SEQUENCE_ROLES or "max_sequences" in embedded.model_fields_set:
        return configured
    return configured.model_copy(update={"embedded": embedded.model_copy(update={"max_sequences": 1})})


@dataclass
class _Child:
    role: str
    process: asyncio.subprocess.Process
    address: str
    started: float = field(default_factory=time.monotonic)


class LocalStack:
    """The four services as separate ``k2think serve ROLE`` processes on ``settings.server``'s ports."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.children: list[_Child] = []

    def endpoints(self) -> dict[str, str]:
        """Where a client reaches each service."""
        s = self.settings.server
        return {
            "gateway_grpc": f"{s.host}:{s.gateway_grpc_port}",
            "gateway_http": f"http://{s.host}:{s.gateway_http_port}/v1",
            "planner": f"{s.host}:{s.planner_port}",
            "solver": f"{s.host}:{s.solver_port}",
            "judge": f"{s.host}:{s.judge_port}",
            "metrics": ", ".join(
                f"http://{s.host}:{port}/metrics"
                for port in (s.gateway_http_port, s.planner_metrics_port, s.solver_metrics_port, s.judge_metrics_port)
            ),
        }

    def _env(self) -> dict[str, str]:
        """The environment of every child: this process's, with the gateway pointed at the local roles and glibc's
        malloc held to ``MALLOC_ARENA`` arenas unless set (the images set the same)."""
        ends = self.endpoints()
        return {
            "MALLOC_ARENA_MAX": MALLOC_ARENA,
            **os.environ,
            "K2_SERVER__PLANNER_ADDRESS": ends["planner"],
            "K2_SERVER__SOLVER_ADDRESSES": json.dumps([ends["solver"]]),
            "K2_SERVER__JUDGE_ADDRESS": ends["judge"],
        }

    async def start(self, timeout_s: float) -> None:
        """Start every role and wait until each reports SERVING; on failure stop what started and raise."""
        try:
            for role in ROLES:
                self.children.append(await self._spawn(role))
            await asyncio.wait_for(asyncio.gather(*(self._wait_healthy(c) for c in self.children)), timeout_s)
        except BaseException:
            await self.stop()
            raise

    async def _spawn(self, role: str) -> _Child:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.cli", "serve", role, env=self._env()
        )
        return _Child(role, process, self.endpoints()["gateway_grpc" if role == "gateway" else role])

    async def supervise(self, report: Callable[[str], None]) -> None:
        """Keep every role running until cancelled: when one exits, say so and restart it after a backoff (doubling
        while it keeps exiting, reset once it stayed up ``RESTART_STABLE_S``); the other roles keep serving."""
        backoff = dict.fromkeys(ROLES, RESTART_BACKOFF_S)
        while True:
            role = await self.wait()
            if role is None:
                return
            index, child = next((i, c) for i, c in enumerate(self.children) if c.process.returncode is not None)
            if time.monotonic() - child.started >= RESTART_STABLE_S:
                backoff[role] = RESTART_BACKOFF_S
            delay, backoff[role] = backoff[role], min(2 * backoff[role], RESTART_BACKOFF_MAX_S)
            report(
                f"the {child.role} exited with code {child.process.returncode}; the other services keep running; "
                f"restarting it in {delay:g} s"
            )
            await asyncio.sleep(delay)
            self.children[index] = restarted = await self._spawn(child.role)
            try:
                await self._wait_healthy(restarted)
            except RuntimeError as exc:
                report(str(exc))
                continue
            report(f"the {child.role} is serving again")

    async def _wait_healthy(self, child: _Child) -> None:
        client = Client(child.address, self.settings, None)
        try:
            while not await client.healthy():
                if child.process.returncode is not None:
                    raise RuntimeError(
                        f"the {child.role} exited with code {child.process.returncode} before it was ready"
                    )
                await asyncio.sleep(0.2)
        finally:
            await client.close()

    async def wait(self) -> str | None:
        """Block until a child exits; the role that did."""
        waits = {asyncio.ensure_future(c.process.wait()): c.role for c in self.children}
        done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        return waits[next(iter(done))] if done else None

    async def stop(self) -> None:
        """SIGTERM each child, gateway first (its requests drain while the roles still serve); kill after the grace."""
        grace = self.settings.server.grace_period_s + 5.0
        for child in reversed(self.children):
            if child.process.returncode is None:
                child.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(child.process.wait(), grace)
            except TimeoutError:
                child.process.kill()
                await child.process.wait()
        self.children.clear()
