"""Run untrusted Python in separate processes with the strongest isolation this host allows.

The isolation level (see ``isolation.py``) is detected once per settings and reported by ``Sandbox.isolation``
and ``sandbox_info()``. Always: rlimits, a wall-time limit, the whole process group killed at the end, a
scrubbed environment, a private working directory, capped output and bounded parallelism. ``run_linked`` runs
two programs in two separate sandboxes joined only by a Unix socket (the code grader's judge and candidate).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from k2core.config import SandboxSettings
from k2core.verify import isolation, seccomp
from k2core.verify.isolation import Mode

_PROBE = "print('ok')"
_GRACE_S = 1.0  # how long a killed run may take to release its pipes


@dataclass(frozen=True)
class ExecResult:
    """Outcome of one sandboxed run; ``killed_reason`` is "timeout", "output limit", "peer exited" or None.

    A program killed by a signal inside a PID namespace reads ``128 + signal`` (its init's exit status)."""

    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool
    killed_reason: str | None
    truncated: bool
    seconds: float

    @property
    def ok(self) -> bool:
        """Exited with status 0 on its own."""
        return self.returncode == 0 and self.killed_reason is None


@dataclass(frozen=True)
class Program:
    """What one sandbox runs: ``files`` (``main.py`` is run) in its working directory, ``args``, ``stdin``."""

    files: Mapping[str, str]
    args: tuple[str, ...] = ()
    stdin: str = ""

    def __post_init__(self) -> None:
        if "main.py" not in self.files:
            raise ValueError("files: a sandboxed program needs a 'main.py'")
        if any("/" in name or name.startswith(".") for name in self.files):
            raise ValueError("files: names must be plain file names")


@cache
def _detect(settings_json: str) -> Mode:
    """Try each isolation level with a probe program and keep the strongest that works."""
    settings = SandboxSettings.model_validate_json(settings_json)
    *stronger, weakest = isolation.ladder(settings)
    return next((mode for mode in stronger if _probe(mode, settings)), weakest)


def _probe(mode: Mode, settings: SandboxSettings) -> bool:
    """Whether a trivial program runs and prints under this isolation level."""
    try:
        with isolation.stage(mode, settings, {"main.py": _PROBE}, (), timeout_s=10) as staged:
            done = subprocess.run(
                staged.argv,
                cwd=staged.cwd,
                env=staged.env,
                pass_fds=staged.pass_fds,
                capture_output=True,
                timeout=20,
                check=False,
            )
    except (OSError, subprocess.TimeoutExpired, RuntimeError, ValueError):
        return False
    return done.returncode == 0 and done.stdout.strip() == b"ok"


class _BackgroundLoop:
    """One event loop thread per process that runs every sandboxed execution (sync and async callers)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pid = -1

    def get(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                self._loop = asyncio.new_event_loop()
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._loop.run_forever, name="k2-sandbox", daemon=True)
                self._thread.start()
            return self._loop

    def submit(self, coro: Coroutine[Any, Any, Any]) -> concurrent.futures.Future:
        return asyncio.run_coroutine_threadsafe(coro, self.get())

    def on_loop_thread(self) -> bool:
        return threading.current_thread() is self._thread


_BACKGROUND = _BackgroundLoop()


async def _drain(stream: asyncio.StreamReader, buffer: bytearray, cap: int, overflow: Callable[[], None]) -> None:
    """Read a pipe to its end, keeping the first ``cap`` bytes in ``buffer``; call ``overflow`` once when more
    arrives. Reading on to EOF matters: asyncio's ``Process.wait()`` returns only once every pipe is closed."""
    overflowed = False
    while chunk := await stream.read(64 * 1024):
        room = cap - len(buffer)
        buffer += chunk[:room]
        if len(chunk) > room and not overflowed:
            overflowed = True
            overflow()


async def _feed(stream: asyncio.StreamWriter, data: bytes) -> None:
    """Write stdin and close it; a program that exits without reading it is fine."""
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        stream.write(data)
        await stream.drain()
        stream.close()


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    """SIGKILL the run's process group, only while its leader is unreaped: a reaped pid may already name
    someone else's group. Leftovers die with the PID namespace where there is one."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)


class Sandbox:
    """Runs Python source in isolated, limited child processes; at most ``max_parallel`` runs at a time."""

    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings
        self._mode = _detect(self.settings.model_dump_json())
        self._slots: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None

    @property
    def isolation(self) -> str:
        """The isolation level detected for this host, e.g. "bwrap+uid-per-run" or "rlimits-only"."""
        return self._mode.name

    @property
    def hides_host(self) -> bool:
        """Whether programs see a minimal read-only root instead of the host's filesystem."""
        return self._mode.hides_host

    def info(self) -> dict[str, Any]:
        """What a report needs: isolation level, interpreter, identity, filters and limits."""
        return {
            "isolation": self.isolation,
            "interpreter": self.settings.interpreter,
            "runs_as": "a uid of its own per run" if self._mode.drop else "caller",
            "host_filesystem": "hidden (minimal read-only root, private tmpfs)" if self.hides_host else "visible",
            "seccomp": self.hides_host and seccomp.supported(),
            **self.settings.model_dump(exclude={"interpreter"}),
        }

    async def run(self, code: str, stdin: str = "", timeout_s: float | None = None) -> ExecResult:
        """Run ``code`` with ``stdin``; cancelling the awaiting task kills the program."""
        return await asyncio.wrap_future(_BACKGROUND.submit(self._execute(_program(code, stdin), timeout_s)))

    def run_sync(self, code: str, stdin: str = "", timeout_s: float | None = None) -> ExecResult:
        """Blocking ``run`` for synchronous callers (any thread but the sandbox's own loop)."""
        return self._block(self._execute(_program(code, stdin), timeout_s))

    async def run_each(self, code: str, stdins: Sequence[str], timeout_s: float | None = None) -> list[ExecResult]:
        """Run one program once per stdin, concurrently within the parallelism bound."""
        return await asyncio.wrap_future(_BACKGROUND.submit(self._execute_each(code, stdins, timeout_s)))

    def run_each_sync(self, code: str, stdins: Sequence[str], timeout_s: float | None = None) -> list[ExecResult]:
        """Blocking ``run_each``."""
        return self._block(self._execute_each(code, stdins, timeout_s))

    async def run_linked(
        self, first: Program, second: Program, timeout_s: float | None = None
    ) -> tuple[ExecResult, ExecResult]:
        """Run two programs in two sandboxes joined by a Unix socket (its fd number is appended to each one's
        args); the second is killed when the first exits. Together they take one parallelism slot."""
        return await asyncio.wrap_future(_BACKGROUND.submit(self._execute_linked(first, second, timeout_s)))

    def run_linked_sync(
        self, first: Program, second: Program, timeout_s: float | None = None
    ) -> tuple[ExecResult, ExecResult]:
        """Blocking ``run_linked``."""
        return self._block(self._execute_linked(first, second, timeout_s))

    @staticmethod
    def _block(coro: Coroutine[Any, Any, Any]) -> Any:
        if _BACKGROUND.on_loop_thread():
            coro.close()
            raise RuntimeError("Sandbox sync API called from the sandbox loop; await the async API instead")
        future = _BACKGROUND.submit(coro)
        try:
            return future.result()
        except BaseException:  # e.g. a caller's SIGALRM timeout: stop the run too
            future.cancel()
            raise

    def _slots_for(self, loop: asyncio.AbstractEventLoop) -> asyncio.Semaphore:
        """The parallelism bound, bound to the running sandbox loop (a new one after a fork)."""
        if self._slots is None or self._slots[0] is not loop:
            self._slots = (loop, asyncio.Semaphore(self.settings.max_parallel))
        return self._slots[1]

    def _timeout(self, timeout_s: float | None) -> float:
        return self.settings.timeout_s if timeout_s is None else timeout_s

    async def _execute_each(self, code: str, stdins: Sequence[str], timeout_s: float | None) -> list[ExecResult]:
        return list(await asyncio.gather(*(self._execute(_program(code, s), timeout_s) for s in stdins)))

    async def _execute(self, program: Program, timeout_s: float | None) -> ExecResult:
        async with self._slots_for(asyncio.get_running_loop()):
            return await self._spawn(program, self._timeout(timeout_s))

    async def _execute_linked(
        self, first: Program, second: Program, timeout_s: float | None
    ) -> tuple[ExecResult, ExecResult]:
        timeout = self._timeout(timeout_s)
        first_done = asyncio.Event()
        async with self._slots_for(asyncio.get_running_loop()):
            left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            with left, right:
                second_run = asyncio.create_task(self._spawn(second, timeout, right, stop=first_done))
                try:
                    first_result = await self._spawn(first, timeout, left)
                finally:  # also on errors and cancellation: the second is stopped and reaped
                    first_done.set()
                    await asyncio.wait([second_run])
                return first_result, second_run.result()

    async def _spawn(
        self, program: Program, timeout: float, link: socket.socket | None = None, stop: asyncio.Event | None = None
    ) -> ExecResult:
        """Run one program to the end; ``link`` is handed to it (and closed here once it started)."""
        link_fds = () if link is None else (link.fileno(),)
        args = (*program.args, *(str(fd) for fd in link_fds))
        with isolation.stage(self._mode, self.settings, program.files, args, timeout, link_fds) as staged:
            started = time.monotonic()
            proc = await asyncio.create_subprocess_exec(
                *staged.argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=staged.cwd,
                env=staged.env,
                pass_fds=staged.pass_fds,
                start_new_session=True,
            )
            if link is not None:
                link.close()  # the child holds its end now; EOF reaches the peer when the child exits
            return await self._supervise(proc, program.stdin.encode("utf-8", "replace"), timeout, started, stop)

    async def _supervise(
        self, proc: asyncio.subprocess.Process, stdin: bytes, timeout: float, started: float, stop: asyncio.Event | None
    ) -> ExecResult:
        """Feed stdin, drain capped output and kill the group on timeout, overflow, ``stop`` or cancellation."""
        reasons: list[str] = []

        def kill(reason: str) -> None:
            reasons.append(reason)
            _kill_group(proc)

        out, err = bytearray(), bytearray()
        cap = self.settings.max_output_bytes
        assert proc.stdout is not None and proc.stderr is not None and proc.stdin is not None  # all piped
        pipes = [
            asyncio.create_task(_drain(proc.stdout, out, cap, lambda: kill("output limit"))),
            asyncio.create_task(_drain(proc.stderr, err, cap, lambda: kill("output limit"))),
            asyncio.create_task(_feed(proc.stdin, stdin)),
        ]
        exited: asyncio.Task[Any] = asyncio.create_task(proc.wait())
        stopped: asyncio.Task[Any] | None = asyncio.create_task(stop.wait()) if stop is not None else None
        try:
            waiting = [t for t in (exited, stopped) if t is not None]
            await asyncio.wait(waiting, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            if not exited.done():
                kill("peer exited" if stopped is not None and stopped.done() else "timeout")
                await asyncio.wait([exited], timeout=_GRACE_S)  # a survivor may hold a pipe open
        finally:
            _kill_group(proc)  # when the caller cancels
            for task in (exited, stopped):
                if task is not None and not task.done():
                    task.cancel()
            _, pending = await asyncio.wait(pipes, timeout=_GRACE_S)
            for task in pending:
                task.cancel()
        return ExecResult(
            returncode=proc.returncode,
            stdout=out.decode("utf-8", "replace"),
            stderr=err.decode("utf-8", "replace"),
            timed_out="timeout" in reasons,
            killed_reason=reasons[0] if reasons else None,
            truncated="output limit" in reasons,
            seconds=round(time.monotonic() - started, 4),
        )


def _program(code: str, stdin: str) -> Program:
    return Program({"main.py": code}, stdin=stdin)


_configured: SandboxSettings | None = None


def configure_sandbox(settings: SandboxSettings) -> None:
    """Set the limits of the process-wide sandbox (what ``default_sandbox`` and the code grader use) to the caller's
    settings: the edges call it (the CLI with ``K2_SANDBOX__*``). Isolation is probed when the sandbox is first used."""
    global _configured
    _configured = settings
    default_sandbox.cache_clear()


@cache
def default_sandbox() -> Sandbox:
    """The process-wide sandbox: the settings given to ``configure_sandbox``, else ``SandboxSettings``' defaults."""
    return Sandbox(_configured or SandboxSettings())


def sandbox_info(sandbox: Sandbox | None = None) -> dict[str, Any]:
    """Isolation and limits of a sandbox (the default one when omitted), for reports and logs."""
    return (sandbox or default_sandbox()).info()
