"""The OpenAI-compatible HTTP facade: chat completions (JSON or SSE with stage progress), models, health, metrics.

vLLM conventions: the ``<think>`` part goes in ``reasoning_content``, the final answer in ``content``; the full
answer record and (in a stream) each stage event ride in the ``k2think`` extension field. k2think extensions in
the request body (``extra_body`` in the openai client): ``best_of`` (candidates), ``plan``, ``judge``, ``domain``.
The token and the body's size are checked before the body is read; every error is in OpenAI's error shape.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pydantic
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException

from k2core.errors import K2Error, OverloadedError, ValidationError
from k2core.pipeline import FinalEvent, Pipeline, SolveEvent, SolveRequest
from k2core.types import Demonstration, SolveResult
from services import calls, errors, runtime
from services.gateway.http_body import HttpError, parse_json, read_body
from services.gateway.reasoner import observe
from services.settings import ServiceSettings

MODEL_ID = "k2think"
ROUTE = "/v1/chat/completions"
_HTTP_FIELDS = {"n": "best_of", "problem": "messages", "demonstrations": "messages", "system": "messages"}
_SYSTEM_ROLES = ("system", "developer")
_ROLES = (*_SYSTEM_ROLES, "user", "assistant")


class ContentPart(BaseModel):
    """One part of a message's content; only text parts are served."""

    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    """One OpenAI chat message; content as a string or a list of text parts."""

    role: str
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(part.text or "" for part in self.content)
        return self.content or ""


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatRequest(BaseModel):
    """The subset of the OpenAI chat request k2think honours, plus its extensions; other fields are ignored."""

    model_config = ConfigDict(extra="ignore")

    model: str
    messages: list[ChatMessage]
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int = 1
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    seed: int | None = None
    stop: str | list[str] | None = None
    best_of: int | None = None
    plan: bool | None = None
    judge: bool | None = None
    domain: str | None = None

    def solve_request(self, settings: ServiceSettings) -> SolveRequest:
        """The pipeline request: the last user message is the problem; each earlier user message answered by an
        assistant message becomes a demonstration (few-shot turn) for the solver; system (and developer) messages,
        joined in order, become the solver's system turn."""
        if self.model != MODEL_ID:
            raise ValidationError("model", f"unknown model {self.model!r}; this server serves {MODEL_ID!r}")
        if self.n != 1:
            raise ValidationError("n", f"only n=1 is supported, got {self.n}; best_of sets the number of candidates")
        _check_messages(self.messages)
        problems = [m.text() for m in self.messages if m.role == "user"]
        if not problems:
            raise ValidationError("messages", "must contain a user message")
        system = "\n\n".join(m.text() for m in self.messages if m.role in _SYSTEM_ROLES and m.text())
        return SolveRequest.from_settings(
            problems[-1],
            settings,
            system=system or None,
            stop=[self.stop] if isinstance(self.stop, str) else self.stop,
            demonstrations=conversation_demonstrations(self.messages),
            n=self.best_of,
            plan=self.plan,
            judge=self.judge,
            domain=self.domain,
            temperature=self.temperature,
            top_p=self.top_p,
            max_tokens=self.max_completion_tokens or self.max_tokens,
            seed=self.seed,
        )


def _check_messages(messages: list[ChatMessage]) -> None:
    """Refuse what the pipeline cannot honour (other roles, non-text parts) rather than drop it, naming the place."""
    for i, message in enumerate(messages):
        if message.role not in _ROLES:
            raise ValidationError(f"messages[{i}].role", f"must be one of {', '.join(_ROLES)}, got {message.role!r}")
        for j, part in enumerate(message.content if isinstance(message.content, list) else ()):
            if part.type != "text":
                raise ValidationError(
                    f"messages[{i}].content[{j}].type", f"only text parts are served, got {part.type!r}"
                )
            if part.text is None:
                raise ValidationError(f"messages[{i}].content[{j}].text", "a text part needs its text")


def conversation_demonstrations(messages: list[ChatMessage]) -> list[Demonstration]:
    """Earlier (user, assistant) pairs of a chat, in order; system messages (the system turn) and unanswered turns
    are not demonstrations."""
    turns = [m for m in messages if m.role in ("user", "assistant")]
    return [
        Demonstration(problem=user.text(), response=reply.text())
        for user, reply in zip(turns, turns[1:])
        if user.role == "user" and reply.role == "assistant"
    ]


def error_body(exc: Exception) -> tuple[int, dict[str, Any]]:
    """HTTP status and OpenAI error JSON for an error (``services.errors`` owns the table); a field error names the
    field in ``param``."""
    kind = errors.kind_of(exc)
    param = exc.field if isinstance(exc, ValidationError) else None
    message = str(exc) if isinstance(exc, K2Error) else f"{type(exc).__name__}: {exc}"
    return kind.http_status, {
        "error": {"message": message, "type": kind.openai_type, "param": param, "code": kind.openai_code}
    }


def error_response(exc: Exception, request_id: str) -> JSONResponse:
    """The JSON error response of ``exc`` (a k2core error or an HttpError); 429s say when to retry."""
    status, body = (exc.status, exc.body()) if isinstance(exc, HttpError) else error_body(exc)
    headers = {calls.REQUEST_ID_KEY: request_id}
    if isinstance(exc, OverloadedError):
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after_s)))
    if status in (401, 408, 413):  # the body may still be on its way: close rather than read it
        headers["Connection"] = "close"
    return JSONResponse(body, status_code=status, headers=headers)


def _body_error(exc: pydantic.ValidationError) -> ValidationError:
    """The deepest of pydantic's errors, named by its field path (``messages[0].content[1].text``) without the
    union member tags pydantic puts in locations (``str``, ``list[str]``)."""
    fields = set().union(*(model.model_fields for model in (ChatRequest, ChatMessage, ContentPart, StreamOptions)))
    best_path, best_depth, message = "body", -1, "invalid request body"
    for error in exc.errors():
        loc = [part for part in error["loc"] if isinstance(part, int) or part in fields]
        if len(loc) > best_depth:
            path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
            best_path, best_depth, message = path or "body", len(loc), error["msg"]
    return ValidationError(best_path, message)


def split_reasoning(text: str) -> tuple[str | None, str]:
    """(the ``<think>`` part or None, the final answer) of a candidate's text."""
    reasoning, sep, final = text.rpartition("</think>")
    if not sep:
        return None, text.strip()
    return reasoning.replace("<think>", "", 1).strip(), final.strip()


def _sse(data: dict[str, Any]) -> str:
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


def _usage(result: SolveResult) -> dict[str, int]:
    total = result.usage["total"]
    return {
        "prompt_tokens": total.prompt_tokens,
        "completion_tokens": total.completion_tokens,
        "total_tokens": total.prompt_tokens + total.completion_tokens,
    }


class OpenAIFacade:
    """The HTTP app over one Pipeline, sharing the gateway's admission (in-flight limit, draining)."""

    def __init__(self, pipeline: Pipeline, settings: ServiceSettings, admission: calls.Admission) -> None:
        self.pipeline = pipeline
        self.settings = settings
        self.admission = admission
        self.token = runtime.load_token(settings.server)

    def app(self) -> FastAPI:
        """The ASGI app: ``/v1/*`` (token-protected when a token is set), ``/healthz``, ``/metrics``."""
        app = FastAPI(title="k2think", docs_url=None, redoc_url=None, openapi_url=None)
        app.add_exception_handler(HttpError, self._http_error)
        app.add_exception_handler(errors.Unauthenticated, self._http_error)
        app.add_exception_handler(HTTPException, self._starlette_error)
        app.add_exception_handler(Exception, self._internal_error)
        app.post(ROUTE, dependencies=[Depends(self._authorize)])(self.chat_completions)
        app.get("/v1/models", dependencies=[Depends(self._authorize)])(self.models)
        app.get("/healthz")(self.healthz)
        app.get("/metrics")(self.metrics)
        return app

    async def chat_completions(self, request: Request) -> Response:
        """A chat completion: the pipeline's chosen answer, as JSON or as an SSE stream with stage progress.

        The token was checked before this runs; the body is read within its size and time limits, then parsed."""
        rid = request.headers.get(calls.REQUEST_ID_KEY) or uuid.uuid4().hex
        try:
            body = ChatRequest.model_validate(parse_json(await read_body(request, self.settings.limits)))
        except pydantic.ValidationError as exc:
            return error_response(_body_error(exc), rid)
        except HttpError as exc:
            return error_response(exc, rid)
        carrier = {**request.headers, calls.REQUEST_ID_KEY: rid}
        queue: asyncio.Queue[SolveEvent | Exception] = asyncio.Queue()
        runner = asyncio.create_task(self._run(body, carrier, queue))
        first = await queue.get()
        if isinstance(first, Exception):
            return error_response(first, rid)
        headers = {calls.REQUEST_ID_KEY: rid}
        if not body.stream:
            assert isinstance(first, FinalEvent)
            return JSONResponse(self._completion(body, rid, first.result), headers=headers)
        return StreamingResponse(
            self._sse(body, rid, first, queue, runner), media_type="text/event-stream", headers=headers
        )

    async def _run(
        self, body: ChatRequest, carrier: dict[str, str], queue: asyncio.Queue[SolveEvent | Exception]
    ) -> None:
        """Run one request in its own task (its own request context): events or the error go to ``queue``."""
        with calls.scope("gateway", ROUTE, carrier, None) as record:
            try:
                request = body.solve_request(self.settings)
                self._validate(request)
                with self.admission.slot():
                    if body.stream:
                        async for event in self.pipeline.events(request):
                            if isinstance(event, FinalEvent):
                                observe(event.result)
                            queue.put_nowait(event)
                    else:
                        result = await self.pipeline.solve(request)
                        observe(result)
                        queue.put_nowait(FinalEvent(result=result))
                record["code"] = "200"
            except Exception as exc:
                record["code"] = str(error_body(exc)[0])
                queue.put_nowait(exc)

    def _validate(self, request: SolveRequest) -> None:
        """The pipeline's validation, with fields named as in the HTTP request (``best_of``, ``messages``)."""
        try:
            self.pipeline.validate(request)
        except ValidationError as exc:
            field = exc.request_field
            if field not in _HTTP_FIELDS:
                raise
            raise type(exc)(_HTTP_FIELDS[field], exc.message) from exc

    def _completion(self, body: ChatRequest, rid: str, result: SolveResult) -> dict[str, Any]:
        chosen = next(c for c in result.candidates if c.index == result.selected)
        reasoning, content = split_reasoning(chosen.text)
        message = {"role": "assistant", "content": content, "reasoning_content": reasoning}
        return {
            "id": f"chatcmpl-{rid}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.model,
            "choices": [{"index": 0, "message": message, "finish_reason": chosen.finish_reason, "logprobs": None}],
            "usage": _usage(result),
            "k2think": result.to_json_dict(),
        }

    async def _sse(
        self,
        body: ChatRequest,
        rid: str,
        first: SolveEvent,
        queue: asyncio.Queue[SolveEvent | Exception],
        runner: asyncio.Task[None],
    ) -> AsyncIterator[str]:
        """The SSE stream: a role chunk, one chunk per stage event (``k2think``), the answer, usage, ``[DONE]``."""
        created, include_usage = int(time.time()), bool(body.stream_options and body.stream_options.include_usage)

        def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
            return {
                "id": f"chatcmpl-{rid}",
                "object": "chat.completion.chunk",
                "created": created,
                "model": body.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
                **({"usage": None} if include_usage else {}),
                **extra,
            }

        try:
            yield _sse(chunk({"role": "assistant", "content": ""}))
            event: SolveEvent | Exception = first
            while not isinstance(event, FinalEvent | Exception):
                yield _sse(chunk({}, k2think=event.model_dump(mode="json")))
                event = await queue.get()
            if isinstance(event, Exception):
                yield _sse(error_body(event)[1])
            else:
                result = event.result
                chosen = next(c for c in result.candidates if c.index == result.selected)
                reasoning, content = split_reasoning(chosen.text)
                if reasoning:
                    yield _sse(chunk({"reasoning_content": reasoning}))
                yield _sse(chunk({"content": content}))
                yield _sse(chunk({}, chosen.finish_reason, k2think={"kind": "final", "result": result.to_json_dict()}))
                if include_usage:
                    yield _sse({**chunk({}), "choices": [], "usage": _usage(result)})
            yield "data: [DONE]\n\n"
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)

    async def models(self) -> dict[str, Any]:
        """The one model served: the k2think pipeline."""
        return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "k2think"}]}

    async def healthz(self) -> JSONResponse:
        """200 while serving, 503 while draining."""
        if self.admission.draining:
            return JSONResponse({"status": "draining"}, status_code=503)
        return JSONResponse({"status": "ok"})

    async def metrics(self) -> Response:
        """Prometheus exposition of this process's metrics."""
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    async def _authorize(self, request: Request) -> None:
        """Refuse a request without the token before its body is read."""
        if self.token is not None and not runtime.token_matches(request.headers.get("authorization"), self.token):
            raise errors.Unauthenticated("missing or invalid bearer token")

    async def _http_error(self, request: Request, exc: Exception) -> JSONResponse:
        return error_response(exc, request.headers.get(calls.REQUEST_ID_KEY) or uuid.uuid4().hex)

    async def _starlette_error(self, request: Request, exc: Exception) -> JSONResponse:
        """404, 405 and the like from routing, in OpenAI's shape."""
        assert isinstance(exc, HTTPException)
        kind = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
        message = f"{request.method} {request.url.path}: {exc.detail}"
        error = HttpError(exc.status_code, message, None, str(exc.detail).lower().replace(" ", "_"), kind)
        return JSONResponse(error.body(), status_code=exc.status_code, headers=exc.headers)

    async def _internal_error(self, request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(error_body(exc)[1], status_code=500)
