"""Stream helpers: merged() (arrival order, first failure, closing stops all), ready_batches() and coalesce()."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import pytest

from k2core.pipeline.solver import coalesce
from k2core.pipeline.streams import merged, ready_batches
from k2core.roles import IndexedDelta
from k2core.types import Delta


class Tracked:
    """Async generators that yield after delays and record whether they were closed before finishing."""

    def __init__(self) -> None:
        self.stopped: list[str] = []

    async def stream(self, name: str, delays: list[float], fail: bool = False) -> AsyncGenerator[str, None]:
        try:
            for i, delay in enumerate(delays):
                await asyncio.sleep(delay)
                yield f"{name}{i}"
            if fail:
                raise RuntimeError(f"{name} broke")
        except (asyncio.CancelledError, GeneratorExit):
            self.stopped.append(name)
            raise


async def test_items_arrive_interleaved_in_time_order() -> None:
    tracked = Tracked()
    items = [x async for x in merged([tracked.stream("a", [0.0, 0.06]), tracked.stream("b", [0.03, 0.06])])]
    assert items == ["a0", "b0", "a1", "b1"] and tracked.stopped == []


async def test_the_first_failure_is_raised_and_the_rest_are_stopped() -> None:
    tracked = Tracked()
    streams = [tracked.stream("a", [0.01], fail=True), tracked.stream("b", [0.01, 5.0])]
    with pytest.raises(RuntimeError, match="a broke"):
        _ = [x async for x in merged(streams)]
    assert tracked.stopped == ["b"]


@pytest.mark.parametrize("count", [1, 3])
async def test_closing_early_stops_every_stream(count: int) -> None:
    tracked = Tracked()
    names = "abc"[:count]
    merged_stream = merged([tracked.stream(name, [0.0, 5.0]) for name in names])
    first = await anext(merged_stream)
    await merged_stream.aclose()
    assert first == "a0" and sorted(tracked.stopped) == list(names)


async def test_a_slow_consumer_gets_what_piled_up_in_one_batch() -> None:
    async def burst() -> AsyncGenerator[int, None]:
        for i in range(5):
            yield i

    batches = []
    async for batch in ready_batches(burst()):
        batches.append(batch)
        await asyncio.sleep(0.01)  # a slow writer: everything left is produced meanwhile
    assert [i for batch in batches for i in batch] == list(range(5)) and len(batches) <= 2


async def test_a_fast_consumer_gets_batches_of_one() -> None:
    async def trickle() -> AsyncGenerator[int, None]:
        for i in range(3):
            await asyncio.sleep(0.01)
            yield i

    assert [batch async for batch in ready_batches(trickle())] == [[0], [1], [2]]


async def test_batches_deliver_the_items_before_an_error_then_raise_it() -> None:
    tracked = Tracked()
    seen: list[list[str]] = []
    with pytest.raises(RuntimeError, match="a broke"):
        async for batch in ready_batches(tracked.stream("a", [0.0, 0.0], fail=True)):
            seen.append(batch)
            await asyncio.sleep(0.01)
    assert [item for batch in seen for item in batch] == ["a0", "a1"]


async def test_closing_the_batches_stops_the_stream() -> None:
    tracked = Tracked()
    batches = ready_batches(tracked.stream("a", [0.0, 5.0]))
    assert await anext(batches) == ["a0"]
    await batches.aclose()
    assert tracked.stopped == ["a"]


def test_coalesce_keeps_one_delta_per_candidate_with_the_finishing_counts() -> None:
    deltas = [
        IndexedDelta(index=1, delta=Delta(text="Hel")),
        IndexedDelta(index=0, delta=Delta(text="x")),
        IndexedDelta(index=1, delta=Delta(text="lo")),
        IndexedDelta(index=1, delta=Delta(text="!", finish_reason="stop", prompt_tokens=7, completion_tokens=3)),
    ]
    assert coalesce(deltas) == [
        IndexedDelta(index=1, delta=Delta(text="Hello!", finish_reason="stop", prompt_tokens=7, completion_tokens=3)),
        IndexedDelta(index=0, delta=Delta(text="x")),
    ]
