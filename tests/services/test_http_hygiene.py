"""The HTTP facade on loopback as an attacker sees it: token and size checked before the body is read, bounded
bodies and heads, slow senders cut off, every error in OpenAI's shape, Retry-After from the queue."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from services.gateway.http_body import max_body_bytes
from tests.services.harness import FakeEngine, Stack, make_settings, start_stack

ROUTE = "/v1/chat/completions"
BODY = {"model": "k2think", "messages": [{"role": "user", "content": "What is 2 + 2?"}], "best_of": 1, "plan": False}


@pytest.fixture
async def guarded() -> AsyncIterator[Stack]:
    """A stack with a token, a 4 KiB prompt limit and a half-second read timeout."""
    settings = make_settings(auth_token="s3cret")
    limits = settings.limits.model_copy(update={"max_prompt_bytes": 4096, "http_read_timeout_s": 0.5})
    running = await start_stack(settings.model_copy(update={"limits": limits}))
    try:
        yield running
    finally:
        await running.stop()


async def raw_exchange(stack: Stack, head: bytes, body: bytes = b"", timeout_s: float = 5.0) -> bytes:
    """Send raw bytes to the facade and return everything it answers until it closes or goes quiet."""
    port = stack.gateway.http["http"].port
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head + body)
        await writer.drain()
        data = b""
        async with asyncio.timeout(timeout_s):
            while chunk := await reader.read(65536):
                data += chunk
                if b"\r\n\r\n" in data and _complete(data):
                    break
        return data
    finally:
        writer.close()


def _complete(data: bytes) -> bool:
    head, _, rest = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")), 0)
    return len(rest) >= length


def error_of(response: bytes) -> tuple[int, dict]:
    head, _, rest = response.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), json.loads(rest)["error"]


def post_head(length: int, token: str | None = None, extra: str = "") -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return (
        f"POST {ROUTE} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{auth}"
        f"Content-Length: {length}\r\n{extra}\r\n"
    ).encode()


async def test_a_huge_unauthenticated_body_is_refused_before_it_is_sent(guarded: Stack) -> None:
    response = await raw_exchange(guarded, post_head(50_000_000))
    status, error = error_of(response)
    assert status == 401 and error["code"] == "invalid_api_key" and b"connection: close" in response.lower()


async def test_a_declared_length_over_the_limit_is_refused_before_it_is_sent(guarded: Stack) -> None:
    status, error = error_of(await raw_exchange(guarded, post_head(50_000_000, "s3cret")))
    assert status == 413 and error["param"] == "messages" and "limits.max_prompt_bytes" in error["message"]


async def test_a_chunked_body_is_cut_off_once_past_the_limit(guarded: Stack) -> None:
    limit = max_body_bytes(guarded.settings.limits)
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(limit // 65536 + 50):
            sent += 65536
            yield b" " * 65536

    headers = {"Authorization": "Bearer s3cret", "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=guarded.http) as http:
        try:
            response = await http.post(ROUTE, content=chunks(), headers=headers)
        except httpx.HTTPError:  # the server may close before the client finishes sending
            return
    assert response.status_code == 413 and response.json()["error"]["param"] == "messages"
    assert sent < limit + 50 * 65536


async def test_a_body_that_never_finishes_arriving_gets_408(guarded: Stack) -> None:
    start = time.monotonic()
    status, error = error_of(await raw_exchange(guarded, post_head(1000, "s3cret"), b'{"model": "k2'))
    assert status == 408 and error["code"] == "request_timeout" and time.monotonic() - start < 3


async def test_half_open_connections_are_closed_within_the_read_timeout(guarded: Stack) -> None:
    port = guarded.gateway.http["http"].port
    connections = [await asyncio.open_connection("127.0.0.1", port) for _ in range(30)]
    for i, (_, writer) in enumerate(connections):
        writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n" if i % 2 else b"")
    start = time.monotonic()
    async with asyncio.timeout(5):
        closed = await asyncio.gather(*(reader.read() for reader, _ in connections))
    assert all(data == b"" for data in closed) and time.monotonic() - start < 3
    for _, writer in connections:
        writer.close()
    async with httpx.AsyncClient(base_url=guarded.http, headers={"Authorization": "Bearer s3cret"}) as http:
        assert (await http.post(ROUTE, json=BODY)).status_code == 200


async def test_request_heads_are_size_limited(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.http) as http:
        response = await http.get("/healthz", headers={"X-Padding": "a" * (32 << 10)})
        assert response.status_code == 431 and response.json()["error"]["code"] == "headers_too_large"
    async with httpx.AsyncClient(base_url=stack.http) as http:
        assert (await http.get("/healthz")).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/v1/nothing", 404), ("GET", ROUTE, 405), ("DELETE", "/v1/models", 405)],
)
async def test_routing_errors_are_in_openai_shape(stack: Stack, method: str, path: str, status: int) -> None:
    async with httpx.AsyncClient(base_url=stack.http) as http:
        response = await http.request(method, path)
    error = response.json()["error"]
    assert response.status_code == status and error["type"] and error["message"] and "param" in error


@pytest.mark.parametrize(
    ("body", "code"),
    [(b'{"model": "k2think", "messages": [', "invalid_json"), (b'{"model": "k2\xff"}', "invalid_body"), (b"[1]", "invalid_json")],
)
async def test_unparseable_bodies_are_400_without_an_offset_for_param(stack: Stack, body: bytes, code: str) -> None:
    async with httpx.AsyncClient(base_url=stack.http) as http:
        response = await http.post(ROUTE, content=body, headers={"Content-Type": "application/json"})
    error = response.json()["error"]
    assert response.status_code == 400 and error["param"] is None and error["code"] == code


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]}, "messages[0].content[0].text"),
        ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]}, "messages[0].content[0].type"),
        ({"messages": [{"role": "user", "content": [{"type": "text"}]}]}, "messages[0].content[0].text"),
        ({"messages": [{"role": "tool", "content": "x"}, {"role": "user", "content": "q"}]}, "messages[0].role"),
        ({"messages": [{"role": "system", "content": "s" * 5000}, {"role": "user", "content": "q"}]}, "messages"),
        ({"temperature": float("nan")}, "temperature"),
        ({"temperature": float("inf")}, "temperature"),
        ({"top_p": float("-inf")}, "top_p"),
        ({"stop": ["."] * 17}, "stop"),
        ({"stop": "x" * 300}, "stop[0]"),
        ({"stop": [""]}, "stop[0]"),
        ({"stop": 5}, "stop"),
        ({"max_tokens": 10**30}, "max_tokens"),
        ({"seed": 2**70}, "seed"),
    ],
)
async def test_bad_fields_are_400_naming_the_field(guarded: Stack, change: dict, param: str) -> None:
    content = json.dumps({**BODY, **change}).encode()  # json writes NaN and Infinity, as some clients do
    headers = {"Authorization": "Bearer s3cret", "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=guarded.http) as http:
        response = await http.post(ROUTE, content=content, headers=headers)
    error = response.json()["error"]
    assert response.status_code in (400, 413) and error["param"] == param, error
    assert guarded.engine.started == 0


async def test_retry_after_comes_from_the_queue() -> None:
    """One slot: a request took T s and the next one started just now, so a third is told to retry in ~T s."""
    stack = await start_stack(engine=FakeEngine(word_delay_s=0.2))
    stack.gateway.grpc.admission.limit = 1
    try:
        async with httpx.AsyncClient(base_url=stack.http, timeout=30) as http:
            start = time.monotonic()
            assert (await http.post(ROUTE, json=BODY)).status_code == 200
            took = time.monotonic() - start
            second = asyncio.ensure_future(http.post(ROUTE, json=BODY))
            await asyncio.sleep(0.1)
            refused = await http.post(ROUTE, json=BODY)
            assert (await second).status_code == 200
        assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limit_exceeded"
        assert took > 1.6 and 2 <= int(refused.headers["retry-after"]) <= math.ceil(took) + 1
    finally:
        await stack.stop()
