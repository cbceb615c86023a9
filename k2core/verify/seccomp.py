"""A seccomp filter for sandboxed programs, as a raw classic-BPF program (what ``bwrap --seccomp FD`` loads).

Refused with EPERM: syscalls code under test never needs and that widen the kernel's attack surface or reach
outside the sandbox (ptrace and cross-process memory access, mount and namespace changes, bpf, keyrings,
perf, kexec and modules, io_uring, userfaultfd, handle-based opens, clock and host settings), ``socket`` for
any family but AF_UNIX, and ``clone`` with a namespace flag. ``clone3`` answers ENOSYS (its flags live in
memory a filter cannot read; libc falls back to ``clone``). Another architecture or the x32 ABI kills the
process.
"""

from __future__ import annotations

import errno
import platform
import struct

_LD_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JGE = 0x35  # BPF_JMP | BPF_JGE | BPF_K
_JSET = 0x45  # BPF_JMP | BPF_JSET | BPF_K
_RET = 0x06  # BPF_RET | BPF_K
_NR, _ARCH, _ARG0 = 0, 4, 16  # offsets in struct seccomp_data (arg 0 low word, little-endian)

_KILL = 0x80000000  # SECCOMP_RET_KILL_PROCESS
_ALLOW = 0x7FFF0000
_EPERM = 0x00050000 | errno.EPERM
_ENOSYS = 0x00050000 | errno.ENOSYS

_AF_UNIX = 1
_X32_BIT = 0x40000000
# CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET | NEWTIME
_NAMESPACE_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x80

_DENIED = (
    "ptrace process_vm_readv process_vm_writev kcmp pidfd_getfd mount umount2 pivot_root chroot fsopen fsconfig "
    "fsmount fspick move_mount open_tree mount_setattr unshare setns bpf keyctl add_key request_key "
    "perf_event_open kexec_load kexec_file_load init_module finit_module delete_module reboot swapon swapoff "
    "acct quotactl userfaultfd io_uring_setup io_uring_enter io_uring_register open_by_handle_at "
    "name_to_handle_at fanotify_init lookup_dcookie syslog settimeofday clock_settime clock_adjtime adjtimex "
    "sethostname setdomainname vhangup iopl ioperm uselib ustat sysfs _sysctl nfsservctl"
).split()


def _table(numbers: str) -> dict[str, int]:
    pairs = (item.split("=") for item in numbers.split())
    return {name: int(nr) for name, nr in pairs}


# (AUDIT_ARCH, syscall numbers) per machine, from asm/unistd_64.h and asm-generic/unistd.h.
_ARCHES: dict[str, tuple[int, dict[str, int]]] = {
    "x86_64": (
        0xC000003E,
        _table(
            "ptrace=101 process_vm_readv=310 process_vm_writev=311 kcmp=312 pidfd_getfd=438 mount=165 umount2=166 "
            "pivot_root=155 chroot=161 fsopen=430 fsconfig=431 fsmount=432 fspick=433 move_mount=429 "
            "open_tree=428 mount_setattr=442 unshare=272 setns=308 bpf=321 keyctl=250 add_key=248 "
            "request_key=249 perf_event_open=298 kexec_load=246 kexec_file_load=320 init_module=175 "
            "finit_module=313 delete_module=176 reboot=169 swapon=167 swapoff=168 acct=163 quotactl=179 "
            "userfaultfd=323 io_uring_setup=425 io_uring_enter=426 io_uring_register=427 open_by_handle_at=304 "
            "name_to_handle_at=303 fanotify_init=300 lookup_dcookie=212 syslog=103 settimeofday=164 "
            "clock_settime=227 clock_adjtime=305 adjtimex=159 sethostname=170 setdomainname=171 vhangup=153 "
            "iopl=172 ioperm=173 uselib=134 ustat=136 sysfs=139 _sysctl=156 nfsservctl=180 "
            "socket=41 clone=56 clone3=435"
        ),
    ),
    "aarch64": (
        0xC00000B7,
        _table(
            "ptrace=117 process_vm_readv=270 process_vm_writev=271 kcmp=272 pidfd_getfd=438 mount=40 umount2=39 "
            "pivot_root=41 chroot=51 fsopen=430 fsconfig=431 fsmount=432 fspick=433 move_mount=429 "
            "open_tree=428 mount_setattr=442 unshare=97 setns=268 bpf=280 keyctl=219 add_key=217 "
            "request_key=218 perf_event_open=241 kexec_load=104 kexec_file_load=294 init_module=105 "
            "finit_module=273 delete_module=106 reboot=142 swapon=224 swapoff=225 acct=89 quotactl=60 "
            "userfaultfd=282 io_uring_setup=425 io_uring_enter=426 io_uring_register=427 open_by_handle_at=265 "
            "name_to_handle_at=264 fanotify_init=262 lookup_dcookie=18 syslog=116 settimeofday=170 "
            "clock_settime=112 clock_adjtime=266 adjtimex=171 sethostname=161 setdomainname=162 vhangup=58 "
            "nfsservctl=42 socket=198 clone=220 clone3=435"
        ),
    ),
}


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def supported(machine: str | None = None) -> bool:
    """Whether a filter can be built for this machine (``platform.machine()`` when omitted)."""
    return (machine or platform.machine()) in _ARCHES


def filter_program(machine: str | None = None) -> bytes:
    """The filter as packed ``struct sock_filter`` entries for ``machine`` (this host when omitted)."""
    machine = machine or platform.machine()
    if machine not in _ARCHES:
        raise ValueError(f"machine: no seccomp syscall table for {machine!r}")
    arch, numbers = _ARCHES[machine]
    program = [_insn(_LD_ABS, _ARCH), _insn(_JEQ, arch, jt=1), _insn(_RET, _KILL), _insn(_LD_ABS, _NR)]
    if machine == "x86_64":
        program += [_insn(_JGE, _X32_BIT, jf=1), _insn(_RET, _KILL)]
    for name in _DENIED:
        if name in numbers:
            program += [_insn(_JEQ, numbers[name], jf=1), _insn(_RET, _EPERM)]
    program += [_insn(_JEQ, numbers["clone3"], jf=1), _insn(_RET, _ENOSYS)]
    program += [  # socket: AF_UNIX only
        _insn(_JEQ, numbers["socket"], jf=4),
        _insn(_LD_ABS, _ARG0),
        _insn(_JEQ, _AF_UNIX, jf=1),
        _insn(_RET, _ALLOW),
        _insn(_RET, _EPERM),
    ]
    program += [  # clone: no new namespaces
        _insn(_JEQ, numbers["clone"], jf=4),
        _insn(_LD_ABS, _ARG0),
        _insn(_JSET, _NAMESPACE_FLAGS, jf=1),
        _insn(_RET, _EPERM),
        _insn(_RET, _ALLOW),
    ]
    program.append(_insn(_RET, _ALLOW))
    return b"".join(program)
