"""Request validation: every bad field raises ValidationError naming it, before any work starts."""

from __future__ import annotations

from k2core.config import ENGINE_NAMES, Settings
from k2core.errors import TooLargeError, ValidationError
from k2core.types import Demonstration, SamplingParams


def validate_problem(problem: str, settings: Settings, field: str = "problem") -> None:
    """A problem must be non-empty and within ``limits.max_prompt_bytes``."""
    if not problem or not problem.strip():
        raise ValidationError(field, "must not be empty")
    size = len(problem.encode("utf-8"))
    if size > settings.limits.max_prompt_bytes:
        raise TooLargeError(field, f"is {size} bytes; the limit is {settings.limits.max_prompt_bytes} (limits.max_prompt_bytes)")


def validate_n(n: int, settings: Settings, field: str = "n") -> None:
    """``1 <= n <= pipeline.max_n``."""
    if n < 1:
        raise ValidationError(field, f"must be at least 1, got {n}")
    if n > settings.pipeline.max_n:
        raise ValidationError(field, f"must be at most {settings.pipeline.max_n} (pipeline.max_n), got {n}")


def validate_sampling(params: SamplingParams, context_tokens: int | None, prefix: str = "") -> None:
    """Temperature >= 0, top_p in (0, 1], 1 <= max_tokens <= the engine's context."""
    if params.temperature < 0:
        raise ValidationError(f"{prefix}temperature", f"must be >= 0, got {params.temperature}")
    if not 0 < params.top_p <= 1:
        raise ValidationError(f"{prefix}top_p", f"must be in (0, 1], got {params.top_p}")
    if params.max_tokens < 1:
        raise ValidationError(f"{prefix}max_tokens", f"must be >= 1, got {params.max_tokens}")
    if context_tokens is not None and params.max_tokens > context_tokens:
        raise ValidationError(
            f"{prefix}max_tokens", f"{params.max_tokens} exceeds the engine context of {context_tokens} tokens"
        )


def validate_engine_name(name: str, field: str = "engine") -> None:
    """The engine must be one of the known backends."""
    if name not in ENGINE_NAMES:
        raise ValidationError(field, f"unknown engine {name!r}; expected one of {', '.join(ENGINE_NAMES)}")


def validate_demonstrations(demonstrations: list[Demonstration], problem: str, settings: Settings) -> None:
    """At most ``limits.max_demonstrations``, none empty, and together with the problem within ``max_prompt_bytes``."""
    limit = settings.limits.max_demonstrations
    if len(demonstrations) > limit:
        raise ValidationError(
            "demonstrations", f"at most {limit} allowed (limits.max_demonstrations), got {len(demonstrations)}"
        )
    total = len(problem.encode("utf-8"))
    for i, demo in enumerate(demonstrations):
        for name in ("problem", "response"):
            text = getattr(demo, name)
            if not text or not text.strip():
                raise ValidationError(f"demonstrations[{i}].{name}", "must not be empty")
            total += len(text.encode("utf-8"))
    if total > settings.limits.max_prompt_bytes:
        raise TooLargeError(
            "demonstrations",
            f"problem and demonstrations are {total} bytes; the limit is {settings.limits.max_prompt_bytes} "
            "(limits.max_prompt_bytes)",
        )
