"""The backend every system shares: k2core's embedded llama.cpp engine behind OpenAI's chat-completions route.

``llama_cpp.server`` 0.3.36 serialises requests behind one lock, so a flow's concurrent samples would queue. This
server hands every request to the embedded engine, which decodes all live sequences of all requests in one batch
(up to ``--slots``), so concurrent samples overlap as they do on vLLM. It answers ``n`` with N completions seeded
``seed, seed+1, …`` that share the prompt's prefill (llama.cpp's server ignores ``n``), constrains JSON from
``response_format`` (``json_schema``, or ``json_object`` with a ``schema``) or vLLM's ``guided_json``, and streams
with usage. A field a request leaves out takes llama.cpp server's default: temperature 0.8, top-p 0.95, and no
token cap short of the context; a request without a seed gets the next one of a counter, so runs repeat.
``GET /usage`` tells the requests served and tokens generated so far (a stream cut off early counts the tokens it
sent), so a caller running one system at a time reads each system's compute the same way.

    python -m bench.headtohead.backend --model GGUF --port PORT [--slots 6] [--n-ctx 4096] [--alias NAME]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from pathlib import Path
from dataclasses import asdict, dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from k2core.engines.base import Engine
from k2core.errors import ValidationError
from k2core.types import Completion, Delta, Message, SamplingParams

log = logging.getLogger("bench.headtohead.backend")
DEFAULT_TEMPERATURE = 0.8
DEFAULT_TOP_P = 0.95


def json_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON schema a request constrains its output to, from ``guided_json`` or ``response_format``."""
    if body.get("guided_json") is not None:
        guided = body["guided_json"]
        return json.loads(guided) if isinstance(guided, str) else guided
    spec = body.get("response_format") or {}
    if spec.get("type") == "json_schema":
        return (spec.get("json_schema") or {}).get("schema") or {"type": "object"}
    if spec.get("type") == "json_object":
        return spec.get("schema") or {"type": "object"}
    return None


def sampling(body: dict[str, Any], context_tokens: int, seed: int) -> SamplingParams:
    """The request's sampling settings, with llama.cpp server's defaults for the ones it leaves out and ``seed``
    when it sets none."""
    cap = body.get("max_completion_tokens") or body.get("max_tokens") or context_tokens
    stop = body.get("stop") or []
    temperature, top_p = body.get("temperature"), body.get("top_p")
    return SamplingParams(
        temperature=DEFAULT_TEMPERATURE if temperature is None else temperature,
        top_p=DEFAULT_TOP_P if top_p is None else top_p,
        max_tokens=cap,
        seed=seed if body.get("seed") is None else body["seed"],
        stop=[stop] if isinstance(stop, str) else list(stop),
        json_schema=json_schema(body),
    )


def messages_of(body: dict[str, Any]) -> list[Message]:
    """The chat turns; text parts of list contents are joined."""
    turns = body.get("messages")
    if not isinstance(turns, list) or not turns:
        raise ValidationError("messages", "must be a non-empty list of chat messages")
    out = []
    for turn in turns:
        content = turn.get("content") or ""
        if isinstance(content, list):
            content = "".join(part.get("text", "") for part in content if part.get("type") == "text")
        out.append(Message(role=turn.get("role", "user"), content=content))
    return out


def usage(completions: list[Completion]) -> dict[str, int]:
    """OpenAI usage: the prompt counted once, completion tokens summed over the choices."""
    prompt = completions[0].prompt_tokens if completions else 0
    completion = sum(c.completion_tokens for c in completions)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


@dataclass
class Meter:
    """Requests served and tokens generated since the server started."""

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def add(self, prompt_tokens: int, completion_tokens: int) -> None:
        self.requests += 1
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens


class Backend:
    """The OpenAI routes over one engine, metered."""

    def __init__(self, engine: Engine, alias: str, context_tokens: int, seed: int = 0) -> None:
        self.engine, self.alias, self.context_tokens = engine, alias, context_tokens
        self.meter = Meter()
        self._next_seed = seed

    def app(self) -> Starlette:
        @asynccontextmanager
        async def lifespan(_: Starlette) -> AsyncIterator[None]:
            yield
            await self.engine.close()

        routes = [
            Route("/v1/chat/completions", self.chat, methods=["POST"]),
            Route("/v1/models", self.models, methods=["GET"]),
            Route("/usage", self.usage, methods=["GET"]),
        ]
        return Starlette(routes=routes, lifespan=lifespan)

    async def models(self, _: Request) -> JSONResponse:
        return JSONResponse({"object": "list", "data": [{"id": self.alias, "object": "model", "owned_by": "k2think"}]})

    async def usage(self, _: Request) -> JSONResponse:
        return JSONResponse(asdict(self.meter))

    async def chat(self, request: Request) -> Response:
        """One chat completion: ``n`` choices seeded ``seed, seed+1, …``, or a stream of one."""
        try:
            body = await request.json()
            n = 1 if body.get("n") is None else int(body["n"])
            if n < 1:
                raise ValidationError("n", "must be at least 1")
            turns, params = messages_of(body), sampling(body, self.context_tokens, self._next_seed)
            self._next_seed += n
            if body.get("stream"):
                return StreamingResponse(self._stream(turns, params, body), media_type="text/event-stream")
            start = time.perf_counter()
            completions = await self._unless_disconnected(request, self._complete(turns, params, n))
        except ValidationError as exc:
            return JSONResponse({"error": {"message": str(exc), "type": "invalid_request_error"}}, status_code=400)
        except ValueError as exc:
            return JSONResponse({"error": {"message": f"body: {exc}", "type": "invalid_request_error"}}, status_code=400)
        if completions is None:
            log.info("n=%d json=%s: the client went away; generation stopped", n, params.json_schema is not None)
            return Response(status_code=499)
        counts = usage(completions)
        self.meter.add(counts["prompt_tokens"], counts["completion_tokens"])
        log.info("n=%d json=%s max_tokens=%d: %s tokens, %s, %.1f s", n, params.json_schema is not None,
                 params.max_tokens, [c.completion_tokens for c in completions], [c.finish_reason for c in completions],
                 time.perf_counter() - start)  # fmt: skip
        choices = [
            {"index": i, "message": {"role": "assistant", "content": c.text}, "finish_reason": c.finish_reason}
            for i, c in enumerate(completions)
        ]
        return JSONResponse(self._envelope("chat.completion", choices, usage=counts))

    async def _complete(self, turns: list[Message], params: SamplingParams, n: int) -> list[Completion]:
        """``n`` completions decoded together; a single one is streamed from the engine so that, cut off, the
        tokens it made are still counted."""
        if n > 1:
            return await self.engine.generate(turns, params, n)
        pieces: list[str] = []
        try:
            async for delta in self.engine.stream(turns, params):
                if delta.finish_reason is None:
                    pieces.append(delta.text)
                    continue
                return [Completion(text="".join(pieces), finish_reason=delta.finish_reason, seconds=0.0,
                                   prompt_tokens=delta.prompt_tokens, completion_tokens=delta.completion_tokens)]  # fmt: skip
        except asyncio.CancelledError:
            self.meter.add(0, len(pieces))  # about one delta per sampled token
            raise
        raise RuntimeError("the engine's stream ended without a finish reason")

    async def _unless_disconnected(self, request: Request, work: Awaitable[list[Completion]]) -> list[Completion] | None:
        """The work's result, or None once the client has gone away (the work is then cancelled, as vLLM aborts
        a request whose client disconnects)."""
        task = asyncio.ensure_future(work)
        try:
            while not (await asyncio.wait({task}, timeout=1.0))[0]:
                if await request.is_disconnected():
                    return None
            return task.result()
        finally:
            task.cancel()

    async def _stream(self, turns: list[Message], params: SamplingParams, body: dict[str, Any]) -> AsyncIterator[str]:
        ident = f"chatcmpl-{uuid.uuid4().hex}"
        sent, finished = 0, False
        try:
            async for delta in self.engine.stream(turns, params):
                if delta.finish_reason is None:
                    sent += 1
                    choice = {"index": 0, "delta": {"content": delta.text}, "finish_reason": None}
                    yield _sse(self._envelope("chat.completion.chunk", [choice], ident=ident))
                    continue
                finished = True
                self.meter.add(delta.prompt_tokens, delta.completion_tokens)
                async for chunk in self._stream_end(delta, body, ident):
                    yield chunk
        finally:
            if not finished:  # cut off early: the engine sends about one delta per sampled token
                self.meter.add(0, sent)
        yield "data: [DONE]\n\n"

    async def _stream_end(self, delta: Delta, body: dict[str, Any], ident: str) -> AsyncIterator[str]:
        """The finishing chunk, and the usage chunk when the request asked for it."""
        last = {"index": 0, "delta": {}, "finish_reason": delta.finish_reason}
        yield _sse(self._envelope("chat.completion.chunk", [last], ident=ident))
        if (body.get("stream_options") or {}).get("include_usage"):
            counts = {"prompt_tokens": delta.prompt_tokens, "completion_tokens": delta.completion_tokens,
                      "total_tokens": delta.prompt_tokens + delta.completion_tokens}  # fmt: skip
            yield _sse(self._envelope("chat.completion.chunk", [], ident=ident, usage=counts))

    def _envelope(self, kind: str, choices: list[dict[str, Any]], ident: str | None = None, **extra: Any) -> dict[str, Any]:
        return {"id": ident or f"chatcmpl-{uuid.uuid4().hex}", "object": kind, "created": int(time.time()),
                "model": self.alias, "choices": choices, **extra}  # fmt: skip


def _sse(data: dict[str, Any]) -> str:
    return f"data: {json.dumps(data)}\n\n"


def embedded_engine(model: Path, slots: int, n_ctx: int, threads: int | None) -> Engine:
    """The embedded engine on ``model`` with ``slots`` sequences decoded together, ``n_ctx`` tokens each."""
    from k2core.config import EmbeddedSettings, EngineSettings, Settings
    from k2core.engines.llamacpp import LlamaCppEngine

    embedded = EmbeddedSettings(model_path=str(model), n_ctx=n_ctx, max_sequences=slots, n_threads=threads)
    return LlamaCppEngine(EngineSettings(engine="embedded", embedded=embedded), cache_dir=Settings().cache_dir)


def main(argv: list[str]) -> int:
    """Serve the backend until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="the GGUF to serve")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--slots", type=int, default=6, help="sequences decoded together (parallel slots)")
    parser.add_argument("--n-ctx", type=int, default=4096, help="context tokens per slot")
    parser.add_argument("--threads", type=int, default=None, help="llama.cpp threads (half the CPUs when unset)")
    parser.add_argument("--alias", default="model", help="the model name /v1/models lists")
    parser.add_argument("--seed", type=int, default=0, help="first seed given to requests that set none")
    args = parser.parse_args(argv)
    if args.slots < 1:
        parser.error("--slots must be at least 1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    engine = embedded_engine(args.model, args.slots, args.n_ctx, args.threads)
    uvicorn.run(Backend(engine, args.alias, args.n_ctx, args.seed).app(), host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
