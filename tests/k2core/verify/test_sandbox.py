"""Sandbox: every escape the issue names is contained, and the caller never hangs or crashes."""

from __future__ import annotations

import ast
import asyncio
import os
import socket
import tempfile
import time
from pathlib import Path

import pytest

from k2core.verify.sandbox import Sandbox, SandboxSettings, sandbox_info

SANDBOX = Sandbox(SandboxSettings(timeout_s=5, max_parallel=2, memory_mb=512, max_output_bytes=256 * 1024))
NAMESPACED = SANDBOX.isolation not in ("setpriv", "rlimits-only")
needs_isolation = pytest.mark.skipif(SANDBOX.isolation == "rlimits-only", reason="host allows rlimits only")
needs_namespaces = pytest.mark.skipif(not NAMESPACED, reason=f"no namespaces here ({SANDBOX.isolation})")


def _leftovers() -> list[int]:
    """Live processes still running a sandboxed program (an argument ends in main.py)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if any(part.endswith(b"main.py") for part in cmdline) and b"-I" in cmdline:
            pids.append(int(entry.name))
    return pids


def _workdirs() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("k2sbx-*")}


def test_isolation_is_detected_and_reported() -> None:
    info = sandbox_info(SANDBOX)
    assert info["isolation"] == SANDBOX.isolation
    assert {"interpreter", "runs_as", "timeout_s", "memory_mb", "max_processes", "max_parallel"} <= info.keys()
    if os.geteuid() == 0:
        assert SANDBOX.isolation != "rlimits-only", "as root, unshare+setpriv must be available here"


def test_runs_code_with_stdin_and_cleans_up() -> None:
    before = _workdirs()
    result = SANDBOX.run_sync("import sys\nprint(sys.stdin.read().upper())\nopen('x.txt', 'w').write('ok')", "hi")
    assert result.ok and result.stdout == "HI\n" and not result.truncated
    assert _workdirs() <= before


async def test_async_api() -> None:
    results = await asyncio.gather(SANDBOX.run("print(6 * 7)"), SANDBOX.run("raise SystemExit(3)"))
    assert results[0].stdout == "42\n" and results[1].returncode == 3 and not results[1].ok


def test_infinite_loop_times_out() -> None:
    started = time.monotonic()
    result = SANDBOX.run_sync("while True:\n    pass", timeout_s=1.5)
    assert result.timed_out and result.killed_reason == "timeout" and not result.ok
    assert time.monotonic() - started < 4
    assert not _leftovers()


@needs_isolation
def test_fork_bomb_is_contained() -> None:
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    started = time.monotonic()
    result = SANDBOX.run_sync(bomb, timeout_s=2)
    assert not result.ok and time.monotonic() - started < 6
    time.sleep(0.2)
    assert not _leftovers()


@needs_namespaces
def test_detached_children_die_with_the_run() -> None:
    daemon = "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(60)\nprint('parent done')"
    result = SANDBOX.run_sync(daemon, timeout_s=3)
    assert result.stdout == "parent done\n"
    time.sleep(0.2)
    assert not _leftovers()


def test_memory_bomb_is_contained() -> None:
    hog = "chunks = []\nwhile True:\n    chunks.append(bytearray(64 << 20))"
    result = SANDBOX.run_sync(hog, timeout_s=5)
    assert not result.ok and not result.timed_out
    assert "MemoryError" in result.stderr


def test_file_size_is_capped() -> None:
    result = SANDBOX.run_sync("open('big', 'wb').write(b'x' * (64 << 20))", timeout_s=5)
    assert not result.ok


@needs_namespaces
def test_network_connection_is_blocked() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(0.3)
        port = listener.getsockname()[1]
        code = (
            "import socket\n"
            "try:\n"
            f"    socket.create_connection(('127.0.0.1', {port}), timeout=1)\n"
            "    print('connected')\n"
            "except OSError as exc:\n"
            "    print('blocked', type(exc).__name__)"
        )
        result = SANDBOX.run_sync(code, timeout_s=4)
        assert result.stdout.startswith("blocked"), result
        with pytest.raises(TimeoutError):
            listener.accept()


@needs_isolation
def test_writing_outside_its_directory_fails(tmp_path: Path) -> None:
    target = tmp_path / "owned-by-parent"
    target.mkdir(mode=0o755)
    victim = target / "pwned.txt"
    code = (
        f"try:\n    open({str(victim)!r}, 'w').write('x')\n    print('wrote')\n"
        "except OSError as exc:\n    print('denied', type(exc).__name__)\n"
        "open('mine.txt', 'w').write('fine')\nprint(open('mine.txt').read())"
    )
    result = SANDBOX.run_sync(code)
    assert result.stdout.startswith("denied") and result.stdout.endswith("fine\n"), result
    assert not victim.exists()


def test_parent_environment_is_not_visible(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "k2-secret-" + os.urandom(8).hex()
    monkeypatch.setenv("K2_TEST_SECRET", secret)
    code = (
        "import os\nprint(sorted(os.environ))\nprint(os.environ.get('K2_TEST_SECRET'))\n"
        f"for pid in ({os.getpid()}, {os.getppid()}, 1):\n"
        "    try:\n        print(open(f'/proc/{pid}/environ', 'rb').read())\n"
        "    except OSError as exc:\n        print('denied', pid, type(exc).__name__)"
    )
    result = SANDBOX.run_sync(code)
    assert result.ok, result
    assert secret not in result.stdout and secret not in result.stderr
    names = ast.literal_eval(result.stdout.splitlines()[0])
    assert set(names) <= {"PATH", "LANG", "LC_ALL", "HOME", "PWD", "OLDPWD", "SHLVL", "_"}


def test_100_mb_of_output_is_truncated() -> None:
    flood = "import sys\nblock = 'x' * (1 << 20)\nfor _ in range(100):\n    sys.stdout.write(block)\n"
    started = time.monotonic()
    result = SANDBOX.run_sync(flood, timeout_s=5)
    assert result.truncated and result.killed_reason == "output limit" and not result.ok
    assert len(result.stdout) == SANDBOX.settings.max_output_bytes
    assert time.monotonic() - started < 4


@pytest.mark.timeout(60)
def test_repeated_floods_never_hang() -> None:
    """Regression: once the cap stopped the reading, a pipe never reached EOF and ``Process.wait()`` hung."""
    flood = "import sys\nwhile True:\n    sys.stdout.write('x' * (1 << 20))\n"
    for _ in range(8):
        started = time.monotonic()
        result = SANDBOX.run_sync(flood, timeout_s=5)
        assert result.killed_reason == "output limit" and time.monotonic() - started < 4


def test_stderr_flood_is_truncated_too() -> None:
    result = SANDBOX.run_sync("import sys\nwhile True:\n    sys.stderr.write('e' * 65536)", timeout_s=5)
    assert result.truncated and len(result.stderr) <= SANDBOX.settings.max_output_bytes


def test_parallelism_is_bounded() -> None:
    started = time.monotonic()
    results = SANDBOX.run_each_sync("import time\ntime.sleep(0.4)\nprint(input())", [str(i) for i in range(6)])
    elapsed = time.monotonic() - started
    assert [r.stdout for r in results] == [f"{i}\n" for i in range(6)]
    assert elapsed >= 3 * 0.4  # 6 runs, 2 at a time


async def test_cancelling_the_caller_kills_the_program() -> None:
    task = asyncio.create_task(SANDBOX.run("import time\ntime.sleep(30)", timeout_s=30))
    await asyncio.sleep(0.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.3)
    assert not _leftovers()


def test_sync_api_from_a_running_event_loop() -> None:
    async def caller() -> str:
        return SANDBOX.run_sync("print('inside')").stdout

    assert asyncio.run(caller()) == "inside\n"


def test_the_process_wide_sandbox_takes_the_callers_settings_not_the_environment(monkeypatch) -> None:
    from k2core.verify import sandbox as module

    monkeypatch.setenv("K2_SANDBOX__TIMEOUT_S", "1.5")
    monkeypatch.setattr(module, "_configured", None)
    module.default_sandbox.cache_clear()
    try:
        assert module.default_sandbox().settings == SandboxSettings()  # the library reads no env var itself
        given = SandboxSettings(timeout_s=2.5, max_parallel=1)
        module.configure_sandbox(given)
        assert module.default_sandbox().settings is given
    finally:
        module.default_sandbox.cache_clear()
