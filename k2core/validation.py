"""Request validation: every bad field raises ValidationError naming it, before any work starts."""

from __future__ import annotations

import math
from typing import Any

from k2core.config import ENGINE_NAMES, LimitsSettings, Settings
from k2core.errors import TooLargeError, ValidationError
from k2core.types import Demonstration, SamplingParams

MAX_TOP_LOGPROBS = 20  # the OpenAI API's and vLLM's server default cap


def validate_problem(problem: str, settings: Settings, field: str = "problem") -> None:
    """A problem must be non-empty and within ``limits.max_prompt_bytes``."""
    if not problem or not problem.strip():
        raise ValidationError(field, "must not be empty")
    size = len(problem.encode("utf-8"))
    if size > settings.limits.max_prompt_bytes:
        raise TooLargeError(
            field, f"is {size} bytes; the limit is {settings.limits.max_prompt_bytes} (limits.max_prompt_bytes)"
        )


def validate_n(n: int, settings: Settings, field: str = "n") -> None:
    """``1 <= n <= pipeline.max_n``."""
    if n < 1:
        raise ValidationError(field, f"must be at least 1, got {n}")
    if n > settings.pipeline.max_n:
        raise ValidationError(field, f"must be at most {settings.pipeline.max_n} (pipeline.max_n), got {n}")


def validate_sampling(
    params: SamplingParams, context_tokens: int | None, limits: LimitsSettings, prefix: str = ""
) -> None:
    """Finite temperature >= 0, top_p in (0, 1], 1 <= max_tokens <= the engine's context, a seed that fits 64 bits
    with room for per-candidate offsets, at most MAX_TOP_LOGPROBS log-probabilities per token, bounded stop strings
    and JSON schema."""
    if not math.isfinite(params.temperature) or params.temperature < 0:
        raise ValidationError(f"{prefix}temperature", f"must be a finite number >= 0, got {params.temperature}")
    if not 0 < params.top_p <= 1:
        raise ValidationError(f"{prefix}top_p", f"must be in (0, 1], got {params.top_p}")
    if not 1 <= params.max_tokens < 2**31:
        raise ValidationError(f"{prefix}max_tokens", f"must be in [1, 2**31), got {params.max_tokens}")
    if params.seed is not None and not -(2**62) <= params.seed < 2**62:
        raise ValidationError(f"{prefix}seed", f"must be in [-2**62, 2**62), got {params.seed}")
    if context_tokens is not None and params.max_tokens > context_tokens:
        raise ValidationError(
            f"{prefix}max_tokens", f"{params.max_tokens} exceeds the engine context of {context_tokens} tokens"
        )
    if not 0 <= params.top_logprobs <= MAX_TOP_LOGPROBS:
        raise ValidationError(f"{prefix}top_logprobs", f"must be in [0, {MAX_TOP_LOGPROBS}], got {params.top_logprobs}")
    validate_stop(params.stop, limits, f"{prefix}stop")
    if params.json_schema is not None:
        validate_json_depth(params.json_schema, limits.max_json_schema_depth, f"{prefix}json_schema")


def validate_stop(stop: list[str], limits: LimitsSettings, field: str = "stop") -> None:
    """At most ``limits.max_stop_sequences`` stop strings, none empty, each within ``limits.max_stop_bytes``."""
    if len(stop) > limits.max_stop_sequences:
        raise ValidationError(
            field, f"at most {limits.max_stop_sequences} allowed (limits.max_stop_sequences), got {len(stop)}"
        )
    for i, text in enumerate(stop):
        size = len(text.encode("utf-8"))
        if not size:
            raise ValidationError(f"{field}[{i}]", "must not be empty")
        if size > limits.max_stop_bytes:
            raise ValidationError(
                f"{field}[{i}]", f"is {size} bytes; the limit is {limits.max_stop_bytes} (limits.max_stop_bytes)"
            )


def validate_json_depth(value: Any, max_depth: int, field: str) -> None:
    """Objects and arrays nested at most ``max_depth`` deep (checked without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, dict | list):
            continue
        if depth > max_depth:
            raise ValidationError(field, f"nests deeper than {max_depth} levels (limits.max_json_schema_depth)")
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children)


class PromptBudget:
    """The bytes of a request's texts counted against ``limits.max_prompt_bytes``; the part that crosses it is named."""

    def __init__(self, settings: Settings) -> None:
        self.limit = settings.limits.max_prompt_bytes
        self.used = 0

    def add(self, field: str, *texts: str) -> None:
        """Count ``texts``; raise TooLargeError naming ``field`` when the total passes the limit."""
        self.used += sum(len(text.encode("utf-8")) for text in texts)
        if self.used > self.limit:
            raise TooLargeError(
                field, f"brings the request to {self.used} bytes; the limit is {self.limit} (limits.max_prompt_bytes)"
            )


def validate_engine_name(name: str, field: str = "engine") -> None:
    """The engine must be one of the known backends."""
    if name not in ENGINE_NAMES:
        raise ValidationError(field, f"unknown engine {name!r}; expected one of {', '.join(ENGINE_NAMES)}")


def validate_demonstrations(demonstrations: list[Demonstration], settings: Settings) -> None:
    """At most ``limits.max_demonstrations``, none empty (their size counts in the request's PromptBudget)."""
    limit = settings.limits.max_demonstrations
    if len(demonstrations) > limit:
        raise ValidationError(
            "demonstrations", f"at most {limit} allowed (limits.max_demonstrations), got {len(demonstrations)}"
        )
    for i, demo in enumerate(demonstrations):
        for name in ("problem", "response"):
            text = getattr(demo, name)
            if not text or not text.strip():
                raise ValidationError(f"demonstrations[{i}].{name}", "must not be empty")
