"""The sandbox sees nothing of the host, gains nothing from setuid, refuses what tests never need, limits per run."""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import stat
import struct
import tempfile
import uuid
from pathlib import Path

import pytest

from k2core.verify import seccomp
from k2core.verify.sandbox import Program, Sandbox, SandboxSettings

SANDBOX = Sandbox(SandboxSettings(timeout_s=5, max_parallel=2, memory_mb=512, tmpfs_mb=8, max_file_mb=64))
ROOT = os.geteuid() == 0
REPO = Path(__file__).resolve().parents[3]
hidden_host = pytest.mark.skipif(not SANDBOX.hides_host, reason=f"host filesystem visible here ({SANDBOX.isolation})")
per_run_uid = pytest.mark.skipif(not (ROOT and SANDBOX.info()["runs_as"] != "caller"), reason="needs root")
MINIMAL_ROOT = {"usr", "lib", "lib64", "lib32", "libx32", "bin", "sbin", "tmp", "dev", "proc"}


def test_the_level_in_force_is_reported() -> None:
    info = SANDBOX.info()
    assert info["isolation"] == SANDBOX.isolation
    assert info["host_filesystem"].startswith("hidden" if SANDBOX.hides_host else "visible")
    assert info["seccomp"] == (SANDBOX.hides_host and seccomp.supported())


def test_without_bwrap_it_falls_back_and_says_so() -> None:
    fallback = Sandbox(SandboxSettings(timeout_s=5, bwrap=""))
    assert not fallback.isolation.startswith("bwrap") and not fallback.hides_host
    assert fallback.info()["host_filesystem"] == "visible"
    assert fallback.run_sync("print(6 * 7)").stdout == "42\n"


@hidden_host
def test_a_host_file_by_absolute_path_is_not_there() -> None:
    readme = REPO / "README.md"
    marker = readme.read_text(encoding="utf-8").splitlines()[0]
    targets = [str(readme), str(Path(seccomp.__file__).resolve()), "/etc/passwd", "/proc/1/root/etc/passwd"]
    code = (
        f"for path in {targets!r}:\n    try:\n        print(open(path).read())\n"
        "    except OSError as exc:\n        print('missing', path, type(exc).__name__)\n"
    )
    result = SANDBOX.run_sync(code)
    assert result.ok, result
    assert marker not in result.stdout and "root:" not in result.stdout
    assert result.stdout.count("missing") == len(targets)


@hidden_host
def test_listing_the_root_shows_no_host_tree() -> None:
    code = (
        "import os\nprint(sorted(os.listdir('/')))\nprint(sorted(os.listdir('/usr')))\nprint(os.listdir('/tmp'))\n"
        f"print(os.path.exists({str(REPO)!r}))"
    )
    root, usr, tmp, repo_seen = SANDBOX.run_sync(code).stdout.splitlines()
    assert set(eval(root)) <= MINIMAL_ROOT and repo_seen == "False"  # the clone may live under /tmp: the path counts
    assert "local" not in eval(usr) and "share" not in eval(usr)
    assert eval(tmp) == ["main.py"]


@hidden_host
def test_writing_past_the_tmpfs_quota_fails_without_reaching_the_host() -> None:
    name = f"k2-quota-{uuid.uuid4().hex}"
    before = set(Path(tempfile.gettempdir()).iterdir())
    code = (
        "import errno\nwritten = 0\ntry:\n    for i in range(8):\n"
        f"        with open(f'{name}-{{i}}', 'wb') as handle:\n            handle.write(b'x' * (4 << 20))\n"
        "        written += 4 << 20\nexcept OSError as exc:\n    print(errno.errorcode[exc.errno], written)\n"
    )
    result = SANDBOX.run_sync(code)
    code_name, written = result.stdout.split()
    assert code_name == errno.errorcode[errno.ENOSPC] and int(written) < SANDBOX.settings.tmpfs_mb << 20
    after = set(Path(tempfile.gettempdir()).iterdir())
    assert not any(name in str(path) for path in after)
    assert not {p for p in after - before if p.name.startswith("k2sbx-")}


@pytest.mark.skipif(not ROOT, reason="making a setuid-root binary needs root")
def test_running_a_setuid_root_binary_gains_nothing(tmp_path: Path) -> None:
    setuid_python = tmp_path / "python3"
    shutil.copy2(os.path.realpath(SANDBOX.settings.interpreter), setuid_python)
    setuid_python.chmod(0o755 | stat.S_ISUID | stat.S_ISGID)
    sandbox = Sandbox(SandboxSettings(interpreter=str(setuid_python), timeout_s=5))
    code = (
        "import os\nstatus = dict(line.split(':', 1) for line in open('/proc/self/status'))\n"
        "print(os.geteuid(), os.getegid(), *(status[k].strip() for k in ('NoNewPrivs', 'CapBnd', 'CapEff')))\n"
        "try:\n    os.setuid(0)\n    print('became root')\nexcept PermissionError:\n    print('refused')\n"
    )
    result = sandbox.run_sync(code)
    assert result.ok, result
    ids, verdict = result.stdout.splitlines()
    euid, egid, no_new_privs, bounding, effective = ids.split()
    assert euid != "0" and egid != "0" and verdict == "refused"
    assert no_new_privs == "1" and int(bounding, 16) == 0 and int(effective, 16) == 0


@hidden_host
@pytest.mark.skipif(not seccomp.supported(), reason="no seccomp table for this machine")
def test_seccomp_refuses_what_tests_never_need_and_allows_the_rest() -> None:
    code = (
        "import ctypes, os, socket, subprocess, sys, threading\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "def refused(call):\n    ctypes.set_errno(0)\n    return call() == -1 and ctypes.get_errno() == 1\n"
        "out = {}\n"
        "for family in (socket.AF_INET, socket.AF_INET6, socket.AF_NETLINK, socket.AF_PACKET):\n"
        "    try:\n        socket.socket(family, socket.SOCK_RAW if family == socket.AF_PACKET else socket.SOCK_DGRAM)\n"
        "        out[family.name] = False\n    except PermissionError:\n        out[family.name] = True\n"
        "out['unshare'] = refused(lambda: libc.unshare(0x10000000))\n"
        "out['ptrace'] = refused(lambda: libc.ptrace(0, 0, 0, 0))\n"
        "out['mount'] = refused(lambda: libc.mount(b'none', b'/tmp', b'tmpfs', 0, None))\n"
        "out['chroot'] = refused(lambda: libc.chroot(b'/tmp'))\n"
        "a, b = socket.socketpair()\na.sendall(b'x')\nout['unix'] = b.recv(1) == b'x'\n"
        "box = []\nthread = threading.Thread(target=box.append, args=(1,))\nthread.start()\nthread.join()\n"
        "out['thread'] = box == [1]\n"
        "out['subprocess'] = subprocess.run([sys.executable, '-c', 'print(1)'], capture_output=True).stdout == b'1\\n'\n"
        "print(sorted(k for k, v in out.items() if not v))\n"
    )
    result = SANDBOX.run_sync(code)
    assert result.ok, result
    assert result.stdout == "[]\n"


def test_seccomp_programs_are_well_formed() -> None:
    for machine in ("x86_64", "aarch64"):
        program = seccomp.filter_program(machine)
        assert len(program) % 8 == 0 and len(program) // 8 < 4096
        code, _, _, k = struct.unpack("=HBBI", program[-8:])
        assert (code, k) == (0x06, 0x7FFF0000)  # the default is allow; refusals are explicit
    with pytest.raises(ValueError, match="machine"):
        seccomp.filter_program("sparc64")


@per_run_uid
def test_each_run_has_a_uid_of_its_own() -> None:
    results = SANDBOX.run_each_sync("import os, time\ntime.sleep(0.3)\nprint(os.getuid())", ["", ""])
    uids = {int(r.stdout) for r in results}
    assert len(uids) == 2 and 0 not in uids


@per_run_uid
async def test_a_fork_bomb_does_not_starve_a_concurrent_run() -> None:
    sandbox = Sandbox(SandboxSettings(timeout_s=4, max_parallel=2, max_processes=32, memory_mb=512))
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    good = (
        "import os, time\ntime.sleep(0.5)\nfor _ in range(20):\n    pid = os.fork()\n"
        "    if pid == 0:\n        os._exit(0)\n    os.waitpid(pid, 0)\nprint('forked 20')"
    )
    bombed, passed = await asyncio.gather(sandbox.run(bomb), sandbox.run(good))
    assert not bombed.ok
    assert passed.ok and passed.stdout == "forked 20\n", passed


def test_linked_programs_talk_through_their_socket_and_the_second_dies_with_the_first() -> None:
    first = Program({"main.py": "import socket, sys\nlink = socket.socket(fileno=int(sys.argv[-1]))\n"
                     "link.sendall(b'ping')\nprint(link.recv(4).decode())"})
    second = Program({"main.py": "import socket, sys, time\nlink = socket.socket(fileno=int(sys.argv[-1]))\n"
                      "link.recv(4)\nlink.sendall(b'pong')\ntime.sleep(30)"})
    ran, served = SANDBOX.run_linked_sync(first, second, timeout_s=10)
    assert ran.ok and ran.stdout == "pong\n"
    assert served.killed_reason == "peer exited" and served.seconds < 5


async def test_cancelling_a_linked_run_kills_both_programs() -> None:
    marker = f"k2-linked-{uuid.uuid4().hex}"
    sleeper = Program({"main.py": "import time\ntime.sleep(30)"}, args=(marker,))
    task = asyncio.create_task(SANDBOX.run_linked(sleeper, sleeper, timeout_s=30))
    await asyncio.sleep(1.0)
    assert _running(marker) == 2
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.3)
    assert _running(marker) == 0


def _running(marker: str) -> int:
    """How many sandboxed interpreters (not their bwrap parents) carry ``marker`` on their command line."""
    count = 0
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        count += marker.encode() in cmdline and cmdline[0] == SANDBOX.settings.interpreter.encode()
    return count
