"""Property-based fuzzing of every request the services take (hypothesis), on loopback over the fake engine.

Any generated request — proto messages to the Reasoner, Solver, Planner and Judge, raw bytes, and OpenAI chat
bodies to the HTTP facade — gets an answer or a documented error status, never INTERNAL/UNKNOWN/500, and the
services stay healthy. ``make test`` runs a short derandomized profile; ``pytest -m fuzz tests/services`` runs the
long randomized one.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from k2core.verify import DOMAINS
from services.gen.k2think.v1 import (
    common_pb2,
    judge_pb2,
    planner_pb2,
    reasoner_pb2,
    solver_pb2,
)
from tests.services.harness import Stack, make_settings, start_stack

_COMMON = {"deadline": None, "database": None, "suppress_health_check": list(HealthCheck)}
FAST = settings(max_examples=20, derandomize=True, **_COMMON)
LONG = settings(max_examples=400, **_COMMON)

GRPC_ALLOWED = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.UNAVAILABLE,
}
HTTP_ALLOWED = {200, 400, 401, 404, 405, 408, 413, 429, 431, 502, 503, 504}
TOKEN = "fuzz-token"


class Served:
    """A stack (fake engine, small limits) running on its own event loop in a thread, for blocking clients."""

    def __init__(self) -> None:
        base = make_settings(auth_token=TOKEN)
        limits = base.limits.model_copy(update={"max_prompt_bytes": 64 << 10, "http_read_timeout_s": 2.0})
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.stack: Stack = self._run(start_stack(base.model_copy(update={"limits": limits})))
        self.metadata = (("authorization", f"Bearer {TOKEN}"),)
        self.channels = {name: grpc.insecure_channel(address) for name, address in self._addresses().items()}
        self.http = httpx.Client(base_url=self.stack.http, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(60)

    def _addresses(self) -> dict[str, str]:
        s = self.stack
        return {
            "gateway": s.target,
            "planner": f"127.0.0.1:{s.roles['planner'].port}",
            "judge": f"127.0.0.1:{s.roles['judge'].port}",
            "solver": f"127.0.0.1:{s.solvers[0].port}",
        }

    def call(self, service: str, method: str, request: bytes, stream: bool = False) -> grpc.StatusCode:
        """One RPC with a serialized request; its final status (a stream is read to its end)."""
        channel = self.channels[service.split(".")[0]]
        path = f"/k2think.v1.{service.split('.')[1]}/{method}"
        try:
            if stream:
                for _ in channel.unary_stream(path)(request, metadata=self.metadata, timeout=30):
                    pass
            else:
                channel.unary_unary(path)(request, metadata=self.metadata, timeout=30)
        except grpc.RpcError as exc:
            return exc.code()
        return grpc.StatusCode.OK

    def healthy(self) -> bool:
        """Every service reports SERVING and a plain request is answered over gRPC and HTTP."""
        for channel in self.channels.values():
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
            if reply.status != health_pb2.HealthCheckResponse.SERVING:
                return False
        plain = reasoner_pb2.SolveRequest(problem="What is 2 + 2?").SerializeToString()
        body = {"model": "k2think", "messages": [{"role": "user", "content": "What is 2 + 2?"}]}
        ok = self.call("gateway.Reasoner", "Solve", plain) == grpc.StatusCode.OK
        return ok and self.http.post("/v1/chat/completions", json=body).status_code == 200

    def close(self) -> None:
        self.http.close()
        for channel in self.channels.values():
            channel.close()
        self._run(self.stack.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    running = Served()
    try:
        yield running
    finally:
        running.close()


# Strategies: valid-looking values mixed with the edges (NaN, infinities, huge ints, empty and odd strings).

texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=60)
big_texts = st.one_of(texts, st.builds(lambda c, k: c * k, st.sampled_from("x\n{[é"), st.integers(0, 70_000)))
doubles = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, 1e-300, 0.5, 1.0, 2.0]))
int32s = st.integers(-(2**31), 2**31 - 1)
int64s = st.integers(-(2**63), 2**63 - 1)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)
schemas = st.one_of(
    st.just(""),
    texts,
    json_values.map(json.dumps),
    st.integers(1, 3000).map(lambda depth: '{"items":' * depth + "{}" + "}" * depth),
    st.just(json.dumps({"type": "object", "properties": {"is_hard": {"type": "boolean"}}})),
)
stops = st.lists(st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=8), max_size=4)
sampling = st.builds(
    common_pb2.SamplingParams,
    temperature=st.none() | doubles,
    top_p=st.none() | doubles,
    max_tokens=st.none() | int32s,
    seed=st.none() | int64s,
    stop=st.lists(texts, max_size=20),
    json_schema=schemas,
)
sane_sampling = st.builds(
    common_pb2.SamplingParams,
    temperature=st.none() | st.floats(0, 2),
    top_p=st.none() | st.floats(0.01, 1),
    max_tokens=st.none() | st.integers(1, 512),
    seed=st.none() | st.integers(0, 2**32),
    stop=stops,
)
messages = st.lists(
    st.builds(common_pb2.Message, role=st.sampled_from(["system", "user", "assistant", "tool", ""]) | texts, content=big_texts),
    max_size=4,
)
sane_messages = st.lists(
    st.builds(common_pb2.Message, role=st.sampled_from(["system", "user", "assistant"]), content=texts), min_size=1, max_size=4
)
solve_requests = st.builds(
    reasoner_pb2.SolveRequest,
    problem=st.one_of(st.just("What is 2 + 2?"), big_texts),
    n=st.none() | st.integers(-3, 20) | int32s,
    plan=st.none() | st.booleans(),
    judge=st.none() | st.booleans(),
    params=sampling,
    domain=st.sampled_from(["", *DOMAINS]) | texts,
    public_tests=st.none() | texts | json_values.map(json.dumps),
    adaptive=st.none() | st.booleans(),
    token_budget=st.none() | int32s,
    soft_deadline_s=st.none() | doubles,
    hard_deadline_s=st.none() | doubles,
    demonstrations=st.lists(st.builds(reasoner_pb2.Demonstration, problem=big_texts, response=texts), max_size=3),
) | st.builds(
    reasoner_pb2.SolveRequest,
    problem=texts.filter(str.strip),
    n=st.none() | st.integers(1, 4),
    plan=st.none() | st.booleans(),
    judge=st.none() | st.booleans(),
    params=sane_sampling,
    domain=st.sampled_from(["", *DOMAINS]),
    adaptive=st.none() | st.booleans(),
    token_budget=st.none() | st.integers(1, 10_000),
    hard_deadline_s=st.none() | st.floats(0.001, 60),
    demonstrations=st.lists(
        st.builds(reasoner_pb2.Demonstration, problem=texts.filter(str.strip), response=texts.filter(str.strip)), max_size=2
    ),
)
generate_requests = st.builds(
    solver_pb2.GenerateRequest, messages=messages, params=sampling, n=st.integers(-2, 20) | int32s, stream=st.booleans()
) | st.builds(
    solver_pb2.GenerateRequest, messages=sane_messages, params=sane_sampling, n=st.integers(1, 4), stream=st.booleans()
)
plan_requests = st.builds(planner_pb2.PlanRequest, problem=big_texts)
compare_requests = st.builds(judge_pb2.CompareRequest, problem=big_texts, a=big_texts, b=big_texts)


def _bytes_of(message: Any) -> bytes:
    return message.SerializeToString()


def _mangled(data: bytes, cut: int, junk: bytes) -> bytes:
    """A serialized message with a stretch replaced by junk (invalid UTF-8, broken lengths, unknown fields)."""
    cut = min(cut, len(data))
    return data[:cut] + junk + data[cut + len(junk):]


GRPC_CASES: dict[str, tuple[str, str, bool, st.SearchStrategy[bytes]]] = {
    "reasoner_solve": ("gateway.Reasoner", "Solve", False, solve_requests.map(_bytes_of)),
    "reasoner_stream": ("gateway.Reasoner", "SolveStream", True, solve_requests.map(_bytes_of)),
    "reasoner_bytes": (
        "gateway.Reasoner", "Solve", False,
        st.builds(_mangled, solve_requests.map(_bytes_of), st.integers(0, 200), st.binary(min_size=1, max_size=8))
        | st.binary(max_size=200),
    ),
    "solver_generate": ("solver.Solver", "Generate", True, generate_requests.map(_bytes_of)),
    "planner_plan": ("planner.Planner", "Plan", False, plan_requests.map(_bytes_of)),
    "judge_compare": ("judge.Judge", "Compare", False, compare_requests.map(_bytes_of)),
}


def _content() -> st.SearchStrategy[Any]:
    part = st.fixed_dictionaries(
        {"type": st.sampled_from(["text", "image_url", "input_audio"]) | texts},
        optional={"text": texts | json_values, "image_url": json_values},
    )
    return st.one_of(big_texts, st.none(), st.lists(part, max_size=3), json_values)


chat_messages = st.lists(
    st.fixed_dictionaries(
        {"role": st.sampled_from(["system", "developer", "user", "assistant", "tool"]) | texts},
        optional={"content": _content()},
    ),
    max_size=5,
)
chat_bodies = st.fixed_dictionaries(
    {"model": st.just("k2think") | texts, "messages": chat_messages | json_values},
    optional={
        "stream": st.booleans() | json_values,
        "stream_options": st.fixed_dictionaries({}, optional={"include_usage": st.booleans()}) | json_values,
        "n": st.integers(-2, 3) | json_values,
        "temperature": doubles | json_values,
        "top_p": doubles | json_values,
        "max_tokens": int64s | st.integers() | json_values,
        "max_completion_tokens": st.integers(-5, 10**20),
        "seed": st.integers() | json_values,
        "stop": texts | st.lists(texts, max_size=20) | json_values,
        "best_of": st.integers(-2, 20) | json_values,
        "plan": st.booleans() | json_values,
        "judge": st.booleans() | json_values,
        "domain": st.sampled_from(DOMAINS) | texts,
    },
) | st.fixed_dictionaries(
    {
        "model": st.just("k2think"),
        "messages": st.lists(
            st.fixed_dictionaries(
                {"role": st.sampled_from(["system", "developer", "user", "assistant"]), "content": texts.filter(str.strip)}
            ),
            max_size=4,
        ).map(lambda turns: [*turns, {"role": "user", "content": "What is 2 + 2?"}]),
    },
    optional={
        "stream": st.booleans(),
        "stream_options": st.fixed_dictionaries({"include_usage": st.booleans()}),
        "temperature": st.floats(0, 2),
        "top_p": st.floats(0.01, 1),
        "max_tokens": st.integers(1, 512),
        "seed": st.integers(0, 2**32),
        "stop": stops | st.text(min_size=1, max_size=8),
        "best_of": st.integers(1, 4),
        "plan": st.booleans(),
        "judge": st.booleans(),
        "domain": st.sampled_from(DOMAINS),
    },
)


def _encode(body: dict[str, Any], how: int) -> bytes:
    """A body as a client might send it: plain JSON, ASCII-escaped JSON, or JSON with a broken byte."""
    text = json.dumps(body, ensure_ascii=how == 1).encode("utf-8", "surrogatepass")
    return text[: len(text) // 2] + b"\xff" + text[len(text) // 2:] if how == 2 else text


HTTP_CASES: dict[str, st.SearchStrategy[bytes]] = {
    "chat_json": st.builds(_encode, chat_bodies, st.sampled_from([0, 0, 1, 2])),
    "chat_bytes": st.binary(max_size=300),
}


def check_grpc(served: Served, case: str, data: bytes) -> None:
    service, method, stream, _ = GRPC_CASES[case]
    code = served.call(service, method, data, stream)
    event(code.name)
    assert code in GRPC_ALLOWED, (case, code)


def check_http(served: Served, data: bytes) -> None:
    with served.http.stream("POST", "/v1/chat/completions", content=data, headers={"Content-Type": "application/json"}) as response:
        event(str(response.status_code))
        assert response.status_code in HTTP_ALLOWED, (response.status_code, response.read()[:500])
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            for line in response.iter_lines():
                if line.startswith("data: {"):
                    error = json.loads(line[6:]).get("error")
                    assert error is None or error["code"] not in ("internal_error",), error
        else:
            error = response.read() and response.json().get("error")
            assert not error or (error["type"] and error["message"] and error["code"] != "internal_error"), error


def _run(profile: settings, strategy: st.SearchStrategy[bytes], check: Callable[[bytes], None]) -> None:
    profile(given(strategy)(check))()


def _long_selected(request: pytest.FixtureRequest) -> None:
    if "fuzz" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("the long fuzz run is selected with -m fuzz")


@pytest.mark.parametrize("case", GRPC_CASES)
def test_grpc_requests_get_documented_statuses(served: Served, case: str) -> None:
    _run(FAST, GRPC_CASES[case][3], lambda data: check_grpc(served, case, data))
    assert served.healthy()


@pytest.mark.parametrize("case", HTTP_CASES)
def test_http_requests_get_documented_statuses(served: Served, case: str) -> None:
    _run(FAST, HTTP_CASES[case], lambda data: check_http(served, data))
    assert served.healthy()


@pytest.mark.fuzz
@pytest.mark.parametrize("case", GRPC_CASES)
def test_grpc_requests_long(served: Served, case: str, request: pytest.FixtureRequest) -> None:
    _long_selected(request)
    _run(LONG, GRPC_CASES[case][3], lambda data: check_grpc(served, case, data))
    assert served.healthy()


@pytest.mark.fuzz
@pytest.mark.parametrize("case", HTTP_CASES)
def test_http_requests_long(served: Served, case: str, request: pytest.FixtureRequest) -> None:
    _long_selected(request)
    _run(LONG, HTTP_CASES[case], lambda data: check_http(served, data))
    assert served.healthy()

