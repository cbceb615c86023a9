"""Run untrusted Python in a separate process with the strongest isolation this host allows.

Isolation is detected once per settings and reported by ``Sandbox.isolation`` / ``sandbox_info()``;
rlimits, a wall-time limit, process-group kill, a scrubbed environment, a private working directory,
capped output and bounded parallelism always apply.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import math
import os
import resource
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from k2core.config import SandboxSettings, Settings

_MIB = 1 << 20
_ENTRY = "main.py"
_PROBE = "print('ok')"
_PRIVATE_TMPFS = ("/var/tmp", "/dev/shm", "/run/lock")
_PIDNS = ("--net", "--pid", "--fork", "--kill-child")
_MOUNTNS = ("--mount", "--mount-proc")
# Runs as the namespace's pid 1 and waits for the program, so the program is an ordinary process
# (pid 1 ignores signals it has no handler for); when it exits the whole namespace is torn down.
_INIT = 'cd "$0" || exit 125; "$@"'
_MOUNT_INIT = (
    'mount --bind "$0" /tmp || exit 125; '
    f"for d in {' '.join(_PRIVATE_TMPFS)}; do "
    '[ -d "$d" ] || continue; mount -t tmpfs -o size=1m,mode=1777 tmpfs "$d" || exit 125; done; '
    'cd /tmp || exit 125; "$@"'
)


@dataclass(frozen=True)
class ExecResult:
    """Outcome of one sandboxed run; ``killed_reason`` is "timeout", "output limit" or None.

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


def _rlimits(settings: SandboxSettings, timeout_s: float) -> dict[int, int]:
    return {
        resource.RLIMIT_CPU: math.ceil(timeout_s) + 1,
        resource.RLIMIT_AS: settings.memory_mb * _MIB,
        resource.RLIMIT_NPROC: settings.max_processes,
        resource.RLIMIT_FSIZE: settings.max_file_mb * _MIB,
        resource.RLIMIT_NOFILE: settings.max_open_files,
        resource.RLIMIT_CORE: 0,
    }


_PRLIMIT_FLAGS = {
    resource.RLIMIT_CPU: "--cpu",
    resource.RLIMIT_AS: "--as",
    resource.RLIMIT_NPROC: "--nproc",
    resource.RLIMIT_FSIZE: "--fsize",
    resource.RLIMIT_NOFILE: "--nofile",
    resource.RLIMIT_CORE: "--core",
}


def _limit_command(limits: dict[int, int]) -> tuple[list[str], Callable[[], None] | None]:
    """How the child gets its rlimits: a ``prlimit`` prefix, or a pre-exec hook on hosts without it."""
    prlimit = shutil.which("prlimit")
    if prlimit is not None:
        return [prlimit, *(f"{_PRLIMIT_FLAGS[k]}={v}" for k, v in limits.items()), "--"], None

    def apply() -> None:
        for key, value in limits.items():
            resource.setrlimit(key, (value, value))

    return [], apply


@dataclass(frozen=True)
class _Mode:
    """One isolation level: a wrapper (namespaces), a privilege drop and the interpreter command."""

    name: str
    wrapper: tuple[str, ...]
    drop: tuple[str, ...]
    python: tuple[str, ...]
    private_tmp: bool = False

    def argv(self, workdir: str, *program: str) -> list[str]:
        workdir_arg = (workdir,) if self.wrapper else ()
        return [*self.wrapper, *workdir_arg, *self.drop, *self.python, *program]

    def home(self, workdir: str) -> str:
        return "/tmp" if self.private_tmp else workdir


def _ladder(settings: SandboxSettings) -> list[_Mode]:
    """Isolation candidates for this host, strongest first."""
    python = (settings.interpreter, "-I", "-X", "utf8")
    if os.geteuid() != 0:
        userns = ("unshare", "--user", "--map-root-user", *_PIDNS)
        return [
            _Mode("userns+mount", (*userns, *_MOUNTNS, "/bin/sh", "-c", _MOUNT_INIT), (), python, private_tmp=True),
            _Mode("userns", (*userns, "/bin/sh", "-c", _INIT), (), python),
            _Mode("rlimits-only", (), (), python),
        ]
    pidns = ("unshare", *_PIDNS)
    drop = ("setpriv", f"--reuid={settings.uid}", f"--regid={settings.gid}", "--clear-groups", "--")
    return [
        _Mode(
            "unshare+mount+setpriv", (*pidns, *_MOUNTNS, "/bin/sh", "-c", _MOUNT_INIT), drop, python, private_tmp=True
        ),
        _Mode("unshare+setpriv", (*pidns, "/bin/sh", "-c", _INIT), drop, python),
        _Mode("setpriv", (), drop, python),
        _Mode("rlimits-only", (), (), python),
    ]


def _env(home: str) -> dict[str, str]:
    """The whole environment the program sees: nothing inherited from the parent."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "HOME": home}


def _prepare_workdir(root: str, mode: _Mode, settings: SandboxSettings, code: str) -> None:
    """Write the program; when privileges are dropped, hand the directory to the sandbox user."""
    entry = os.path.join(root, _ENTRY)
    with open(entry, "w", encoding="utf-8") as handle:
        handle.write(code)
    os.chmod(entry, 0o644)
    if mode.drop:
        os.chown(root, settings.uid, settings.gid)
        os.chmod(root, 0o700)


@cache
def _detect(settings_json: str) -> _Mode:
    """Try each isolation level with a probe program and keep the strongest that works."""
    settings = SandboxSettings.model_validate_json(settings_json)
    *stronger, weakest = _ladder(settings)
    return next((mode for mode in stronger if _probe(mode, settings)), weakest)


def _probe(mode: _Mode, settings: SandboxSettings) -> bool:
    """Whether a trivial program runs and prints under this isolation level."""
    prefix, preexec = _limit_command(_rlimits(settings, timeout_s=10))
    with tempfile.TemporaryDirectory(prefix="k2sbx-probe-") as workdir:
        _prepare_workdir(workdir, mode, settings, _PROBE)
        try:
            done = subprocess.run(
                [*prefix, *mode.argv(workdir, _ENTRY)],
                preexec_fn=preexec,
                cwd=workdir,
                env=_env(mode.home(workdir)),
                capture_output=True,
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
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


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


async def _drain(stream: asyncio.StreamReader, buffer: bytearray, cap: int, overflow: Callable[[], None]) -> None:
    """Read a pipe incrementally into ``buffer``; call ``overflow`` and stop once ``cap`` is exceeded."""
    while chunk := await stream.read(64 * 1024):
        room = cap - len(buffer)
        buffer += chunk[:room]
        if len(chunk) > room:
            overflow()
            return


async def _feed(stream: asyncio.StreamWriter, data: bytes) -> None:
    """Write stdin and close it; a program that exits without reading it is fine."""
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        stream.write(data)
        await stream.drain()
        stream.close()


class Sandbox:
    """Runs Python source in an isolated, limited child process; at most ``max_parallel`` at a time."""

    def __init__(self, settings: SandboxSettings | None = None) -> None:
        self.settings = settings or Settings().sandbox
        self._mode = _detect(self.settings.model_dump_json())
        self._slots: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None

    @property
    def isolation(self) -> str:
        """The isolation level detected for this host, e.g. "unshare+mount+setpriv" or "rlimits-only"."""
        return self._mode.name

    def info(self) -> dict[str, Any]:
        """What a report needs: isolation level, interpreter, identity and limits."""
        return {
            "isolation": self.isolation,
            "interpreter": self.settings.interpreter,
            "runs_as": f"{self.settings.uid}:{self.settings.gid}" if self._mode.drop else "caller",
            "rlimits_via": "prlimit" if shutil.which("prlimit") else "preexec",
            **self.settings.model_dump(exclude={"interpreter", "uid", "gid"}),
        }

    async def run(self, code: str, stdin: str = "", timeout_s: float | None = None) -> ExecResult:
        """Run ``code`` with ``stdin``; cancelling the awaiting task kills the program."""
        return await asyncio.wrap_future(_BACKGROUND.submit(self._execute(code, stdin, timeout_s)))

    def run_sync(self, code: str, stdin: str = "", timeout_s: float | None = None) -> ExecResult:
        """Blocking ``run`` for synchronous callers (any thread but the sandbox's own loop)."""
        return self._block(self._execute(code, stdin, timeout_s))

    async def run_each(self, code: str, stdins: Sequence[str], timeout_s: float | None = None) -> list[ExecResult]:
        """Run one program once per stdin, concurrently within the parallelism bound."""
        return await asyncio.wrap_future(_BACKGROUND.submit(self._execute_each(code, stdins, timeout_s)))

    def run_each_sync(self, code: str, stdins: Sequence[str], timeout_s: float | None = None) -> list[ExecResult]:
        """Blocking ``run_each``."""
        return self._block(self._execute_each(code, stdins, timeout_s))

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

    async def _execute_each(self, code: str, stdins: Sequence[str], timeout_s: float | None) -> list[ExecResult]:
        return list(await asyncio.gather(*(self._execute(code, s, timeout_s) for s in stdins)))

    async def _execute(self, code: str, stdin: str, timeout_s: float | None) -> ExecResult:
        timeout = self.settings.timeout_s if timeout_s is None else timeout_s
        async with self._slots_for(asyncio.get_running_loop()):
            with tempfile.TemporaryDirectory(prefix="k2sbx-", ignore_cleanup_errors=True) as workdir:
                _prepare_workdir(workdir, self._mode, self.settings, code)
                return await self._spawn(workdir, stdin.encode("utf-8", "replace"), timeout)

    async def _spawn(self, workdir: str, stdin: bytes, timeout: float) -> ExecResult:
        prefix, preexec = _limit_command(_rlimits(self.settings, timeout))
        started = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            *prefix,
            *self._mode.argv(workdir, _ENTRY),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=workdir,
            env=_env(self._mode.home(workdir)),
            start_new_session=True,
            preexec_fn=preexec,
        )
        reasons: list[str] = []

        def kill(reason: str) -> None:
            reasons.append(reason)
            _kill_group(proc.pid)

        out, err = bytearray(), bytearray()
        cap = self.settings.max_output_bytes
        pipes = [
            asyncio.create_task(_drain(proc.stdout, out, cap, lambda: kill("output limit"))),
            asyncio.create_task(_drain(proc.stderr, err, cap, lambda: kill("output limit"))),
            asyncio.create_task(_feed(proc.stdin, stdin)),
        ]
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            kill("timeout")
            await proc.wait()
        finally:
            _kill_group(proc.pid)  # leftovers of the group; also runs when the caller cancels
            _, pending = await asyncio.wait(pipes, timeout=1.0)
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


@cache
def default_sandbox() -> Sandbox:
    """The process-wide sandbox built from ``Settings().sandbox`` (``K2_SANDBOX__*`` env overrides apply)."""
    return Sandbox()


def sandbox_info(sandbox: Sandbox | None = None) -> dict[str, Any]:
    """Isolation and limits of a sandbox (the default one when omitted), for reports and logs."""
    return (sandbox or default_sandbox()).info()
