"""A bench stopped with SIGTERM stops the children it started (they run in their own sessions)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

PARENT = """
import asyncio, contextlib, sys
from pathlib import Path
from bench.peers.processes import Child, exit_on_sigterm

async def main(log: Path, pid_file: Path) -> None:
    async with contextlib.AsyncExitStack() as stack:
        child = stack.enter_context(Child("sleeper", [sys.executable, "-c", "import time; time.sleep(600)"], log))
        pid_file.write_text(str(child.process.pid))
        await asyncio.sleep(600)

exit_on_sigterm()
asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2])))
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie has left; only its parent has not reaped it yet
        return stat.read().split(") ")[-1][0] != "Z"


def test_sigterm_stops_the_children(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    root = Path(__file__).resolve().parents[2]
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(tmp_path / "child.log"), str(pid_file)],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    deadline = time.monotonic() + 60
    while not pid_file.exists() or not pid_file.read_text():
        assert parent.poll() is None and time.monotonic() < deadline, "the parent did not start its child"
        time.sleep(0.1)
    child = int(pid_file.read_text())
    assert alive(child)
    parent.send_signal(signal.SIGTERM)
    assert parent.wait(30) == 128 + signal.SIGTERM
    deadline = time.monotonic() + 10
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(child), "the child outlived the bench"
