"""`k2think up`: the whole local stack (planner, solver, judge, gateway) as separate processes."""

from __future__ import annotations

import asyncio
import signal

import typer

from services.commands._output import print_json, stderr
from services.settings import ServiceSettings


async def _up(settings: ServiceSettings, ready_timeout_s: float, as_json: bool) -> int:
    from services.stack import LocalStack

    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    stack = LocalStack(settings)
    starting = asyncio.create_task(stack.start(ready_timeout_s))
    stop_wait = asyncio.create_task(stopping.wait())
    await asyncio.wait({starting, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
    if not starting.done():
        starting.cancel()
        await asyncio.gather(starting, return_exceptions=True)
        return 130
    starting.result()
    endpoints = stack.endpoints()
    if as_json:
        print_json(endpoints)
    stderr.print("k2think stack ready (Ctrl-C stops it):")
    for name, address in endpoints.items():
        stderr.print(f"  {name:<13} {address}")
    supervisor = asyncio.create_task(
        stack.supervise(lambda line: stderr.print(f"[yellow]{line}[/yellow]", soft_wrap=True))
    )
    await asyncio.wait({supervisor, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
    failed = supervisor.done()
    if failed:
        stderr.print(f"[red]supervising the stack failed: {supervisor.exception()!r}; stopping it[/red]")
    supervisor.cancel()
    stop_wait.cancel()
    await asyncio.gather(supervisor, return_exceptions=True)
    await stack.stop()
    stderr.print("k2think stack stopped")
    return 1 if failed else 0


def register(app: typer.Typer) -> None:
    @app.command()
    def up(
        ready_timeout: float = typer.Option(300.0, help="Seconds to wait for every service to report SERVING."),
        as_json: bool = typer.Option(False, "--json", help="Print the endpoints as one JSON object once ready."),
    ) -> None:
        """Start planner, solver, judge and gateway as processes on the configured ports; a service that exits is
        restarted (with backoff) while the others keep serving; Ctrl-C stops them all."""
        raise typer.Exit(asyncio.run(_up(ServiceSettings(), ready_timeout, as_json)))
