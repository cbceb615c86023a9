"""The Engine protocol every backend implements, and helpers they share."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from k2core.errors import EngineError
from k2core.types import Completion, Delta, Message, SamplingParams

__all__ = ["Engine", "EngineError", "seeds_for"]


@runtime_checkable
class Engine(Protocol):
    """A text generator with a lifecycle: ``load`` (idempotent; requests load on first use too), ``health``,
    ``close``. ``context_tokens`` is the context length requests are validated against (None when unknown).
    Cancelling the awaiting task must stop generation."""

    name: str
    supports_json_schema: bool

    @property
    def context_tokens(self) -> int | None:
        """The context length requests are validated against (None when unknown)."""

    async def load(self) -> None:
        """Make the engine ready to serve (load weights, learn the server's limits); EngineError when it cannot."""

    async def generate(self, messages: list[Message], params: SamplingParams, n: int = 1) -> list[Completion]:
        """Return ``n`` completions of the conversation."""

    def stream(self, messages: list[Message], params: SamplingParams) -> AsyncIterator[Delta]:
        """Yield text deltas of one completion; the last delta carries finish_reason and token counts."""

    async def health(self) -> bool:
        """Whether the engine can serve requests now."""

    async def close(self) -> None:
        """Release the engine's resources."""


def seeds_for(params: SamplingParams, n: int) -> list[int | None]:
    """Distinct seeds for ``n`` samples: ``seed, seed+1, ...`` when a seed is set, else all None."""
    if params.seed is None:
        return [None] * n
    return [params.seed + i for i in range(n)]
