"""Merging async streams: the items of several iterators as they arrive, one failure stops them all."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from typing import TypeVar

T = TypeVar("T")


async def merged(streams: Sequence[AsyncGenerator[T, None]]) -> AsyncGenerator[T, None]:
    """Items of ``streams`` in arrival order; the first exception is raised, and closing or cancelling the merged
    iterator cancels (and closes) every stream still running."""
    if len(streams) == 1:
        async with aclosing(streams[0]) as only:
            async for item in only:
                yield item
        return
    queue: asyncio.Queue[tuple[T] | asyncio.Task[None]] = asyncio.Queue()

    async def pump(stream: AsyncGenerator[T, None]) -> None:
        async with aclosing(stream) as items:
            async for item in items:
                queue.put_nowait((item,))

    tasks = [asyncio.create_task(pump(stream)) for stream in streams]
    for task in tasks:
        task.add_done_callback(queue.put_nowait)
    try:
        running = len(tasks)
        while running:
            entry = await queue.get()
            if isinstance(entry, tuple):
                yield entry[0]
                continue
            running -= 1
            if not entry.cancelled() and (error := entry.exception()) is not None:
                raise error
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def ready_batches(stream: AsyncGenerator[T, None]) -> AsyncGenerator[list[T], None]:
    """Items of ``stream`` in batches: each batch is the next item plus every item produced while the consumer was
    busy with the previous batch. A consumer slower than the producer gets fewer, larger batches; a fast one gets
    batches of one. Errors are raised after the items before them; closing stops the stream."""
    queue: asyncio.Queue[tuple[T] | asyncio.Task[None]] = asyncio.Queue()

    async def pump() -> None:
        async with aclosing(stream) as items:
            async for item in items:
                queue.put_nowait((item,))

    task = asyncio.create_task(pump())
    task.add_done_callback(queue.put_nowait)
    try:
        while True:
            entries = [await queue.get()]
            while not queue.empty():
                entries.append(queue.get_nowait())
            batch = [entry[0] for entry in entries if isinstance(entry, tuple)]
            if batch:
                yield batch
            if len(batch) < len(entries):  # the pump ended
                if not task.cancelled() and (error := task.exception()) is not None:
                    raise error
                return
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
