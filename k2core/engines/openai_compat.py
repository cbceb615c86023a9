"""OpenAI-compatible engine: any server with ``/v1/chat/completions`` (vLLM, KServe, Ray Serve LLM, llama.cpp)
through the official async client; the chat logic is shared with the Cerebras engine (same SDK shape)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import openai

from k2core.config import EngineSettings
from k2core.engines.base import seeds_for
from k2core.errors import EngineError
from k2core.types import Completion, Delta, Message, SamplingParams, TokenLogprob

__all__ = ["ChatAPIEngine", "OpenAIEngine", "read_key_file"]


def read_key_file(path: str | None) -> str | None:
    """The stripped contents of a mounted secret file, or None."""
    if not path:
        return None
    try:
        return Path(path).expanduser().read_text().strip() or None
    except OSError as exc:
        raise EngineError(f"cannot read the API key file {path}: {exc}", retryable=False) from exc


def _field(obj: Any, name: str) -> Any:
    """A field of an SDK model, or of the plain dict an SDK leaves when a chunk does not fit its types."""
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def token_logprobs(choice: Any) -> list[TokenLogprob] | None:
    """A chat choice's ``logprobs.content`` as TokenLogprobs; None when the server sent none."""
    content = _field(_field(choice, "logprobs") or {}, "content")
    if not content:
        return None
    out = []
    for item in content:
        top: dict[str, float] = {}
        for alt in _field(item, "top_logprobs") or []:
            top.setdefault(str(_field(alt, "token")), float(_field(alt, "logprob")))
        out.append(TokenLogprob(token=str(_field(item, "token")), logprob=float(_field(item, "logprob")), top=top))
    return out


class ChatAPIEngine:
    """Chat completions over a Stainless-style async SDK client (``openai`` or ``cerebras.cloud.sdk``).

    ``n`` samples are ``n`` concurrent requests with distinct seeds (servers like llama.cpp ignore ``n``).
    JSON schemas go as ``response_format`` ``json_schema``; a server that rejects that shape (llama-cpp-python's
    server) is asked again with ``json_object`` + ``schema``, and the engine remembers the choice.
    """

    name = "openai"
    supports_json_schema = True

    def __init__(self, settings: EngineSettings, client: Any, sdk: ModuleType) -> None:
        self.model = settings.model
        self.timeout_s = settings.timeout_s
        self.context_tokens: int | None = None
        self._client = client
        self._sdk = sdk
        self._schema_style = "json_schema"

    async def generate(self, messages: list[Message], params: SamplingParams, n: int = 1) -> list[Completion]:
        """``n`` completions from ``n`` concurrent requests; one failure cancels the rest."""
        tasks = [asyncio.ensure_future(self._complete(messages, params.with_seed(s))) for s in seeds_for(params, n)]
        try:
            return list(await asyncio.gather(*tasks))
        finally:
            for task in tasks:
                task.cancel()

    async def stream(self, messages: list[Message], params: SamplingParams) -> AsyncIterator[Delta]:
        """Text deltas; the last one carries finish_reason and usage (counted from chunks if the server omits it)."""
        chunks = 0
        finish = "stop"
        usage = None
        response = await self._request(messages, params, stream=True)
        try:
            async with response:
                async for chunk in response:
                    usage = chunk.usage or usage
                    for choice in chunk.choices[:1]:
                        text = _field(choice.delta, "content")
                        if text:
                            chunks += 1
                            yield Delta(text=text)
                        finish = choice.finish_reason or finish
        except (self._sdk.APIError, httpx.HTTPError) as exc:
            raise self._engine_error(exc) from exc
        yield Delta(
            finish_reason=finish,
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else chunks,
        )

    async def load(self) -> None:
        """Learn the context length from the server's model list (vLLM reports ``max_model_len``)."""
        try:
            models = await self._client.models.list(timeout=min(self.timeout_s, 10.0))
        except (self._sdk.APIError, httpx.HTTPError) as exc:
            raise self._engine_error(exc) from exc
        cards = [m for m in models.data if m.id == self.model] or list(models.data[:1])
        limit = getattr(cards[0], "max_model_len", None) if cards else None
        self.context_tokens = limit if isinstance(limit, int) and limit > 0 else self.context_tokens

    async def health(self) -> bool:
        """Whether the server lists its models."""
        try:
            await self._client.models.list(timeout=min(self.timeout_s, 10.0))
        except Exception:
            return False
        return True

    async def close(self) -> None:
        """Close the HTTP client."""
        await self._client.close()

    async def _complete(self, messages: list[Message], params: SamplingParams) -> Completion:
        start = time.perf_counter()
        response = await self._request(messages, params, stream=False)
        choice = response.choices[0]
        usage = response.usage
        return Completion(
            text=choice.message.content or "",
            finish_reason=choice.finish_reason or "stop",
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            seconds=time.perf_counter() - start,
            logprobs=token_logprobs(choice) if params.top_logprobs else None,
        )

    async def _request(self, messages: list[Message], params: SamplingParams, *, stream: bool) -> Any:
        """One chat call, mapping SDK errors to EngineError; retried once in the other JSON-schema shape."""
        try:
            return await self._send(self._body(messages, params, stream))
        except self._sdk.APIStatusError as exc:
            if params.json_schema is None or self._schema_style != "json_schema" or "response_format" not in str(exc):
                raise self._engine_error(exc) from exc
            self._schema_style = "json_object"
        except (self._sdk.APIError, httpx.HTTPError) as exc:
            raise self._engine_error(exc) from exc
        try:
            return await self._send(self._body(messages, params, stream))
        except (self._sdk.APIError, httpx.HTTPError) as exc:
            raise self._engine_error(exc) from exc

    async def _send(self, body: dict[str, Any]) -> Any:
        """Send one request (the Cerebras engine adds rate limiting and backoff here)."""
        return await self._client.chat.completions.create(**body)

    def _body(self, messages: list[Message], params: SamplingParams, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [m.model_dump() for m in messages],
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "timeout": self.timeout_s,
            "stream": stream,
        }
        if stream:
            body["stream_options"] = {"include_usage": True}
        if params.seed is not None:
            body["seed"] = params.seed
        if params.stop:
            body["stop"] = params.stop
        if params.top_logprobs:
            body["logprobs"], body["top_logprobs"] = True, params.top_logprobs
        if params.json_schema is not None:
            if self._schema_style == "json_schema":
                spec = {"name": "output", "schema": params.json_schema, "strict": True}
                body["response_format"] = {"type": "json_schema", "json_schema": spec}
            else:
                body["response_format"] = {"type": "json_object", "schema": params.json_schema}
        return body

    def _engine_error(self, exc: Exception) -> EngineError:
        """Timeouts, connection errors, 408/429/5xx may succeed elsewhere; other statuses will not."""
        if isinstance(exc, self._sdk.APIStatusError):
            retryable = exc.status_code in (408, 409, 429) or exc.status_code >= 500
            return EngineError(f"{self.name} server answered {exc.status_code}: {exc.message}", retryable=retryable)
        if isinstance(exc, self._sdk.APITimeoutError | httpx.TimeoutException):
            return EngineError(f"{self.name} request timed out after {self.timeout_s}s", retryable=True)
        return EngineError(f"{self.name} request failed: {exc}", retryable=True)


class OpenAIEngine(ChatAPIEngine):
    """The ``openai`` engine: ``base_url`` from settings (or one pool endpoint), key from settings, file or EMPTY."""

    name = "openai"

    def __init__(self, settings: EngineSettings, *, base_url: str | None = None, max_retries: int = 2) -> None:
        key = settings.api_key or read_key_file(settings.api_key_file) or "EMPTY"
        client = openai.AsyncOpenAI(
            base_url=base_url or settings.base_url, api_key=key, timeout=settings.timeout_s, max_retries=max_retries
        )
        super().__init__(settings, client, openai)
