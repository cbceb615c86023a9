"""Usage accounting: tokens and seconds of completions, and cost from configured prices."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from k2core.config import EngineSettings
from k2core.types import Usage


class Costed(Protocol):
    """Anything that reports its tokens and seconds: a Completion or a Candidate."""

    prompt_tokens: int
    completion_tokens: int
    seconds: float


def usage_of(items: Iterable[Costed], calls: int = 1) -> Usage:
    """Summed tokens and seconds of ``items`` made by ``calls`` role calls."""
    done = list(items)
    return Usage(
        prompt_tokens=sum(c.prompt_tokens for c in done),
        completion_tokens=sum(c.completion_tokens for c in done),
        seconds=sum(c.seconds for c in done),
        calls=calls,
    )


def priced(usage: Usage, engine: EngineSettings) -> Usage:
    """``usage`` with ``cost_usd`` from the engine's prices per million tokens, when any price is set."""
    prompt_price, completion_price = engine.price_per_million_prompt, engine.price_per_million_completion
    if prompt_price is None and completion_price is None:
        return usage
    cost = (usage.prompt_tokens * (prompt_price or 0.0) + usage.completion_tokens * (completion_price or 0.0)) / 1e6
    return usage.model_copy(update={"cost_usd": cost})
