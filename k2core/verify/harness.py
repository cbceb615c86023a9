"""The two halves of a code-grading run: stdlib only, copied as ``main.py`` into two separate sandboxes.

``main.py judge FD`` runs the ground-truth tests of ``tests.py``. Every name in ``remote.json`` (names the tests
use but do not define: the entry point, prompt helpers such as ``poly``) is a remote function: a call sends
its arguments as data over socket FD to the candidate's sandbox and decodes the reply into exact builtin
types, so no object of the candidate's (a lying ``__eq__``, a patched ``AssertionError``) ever exists here.
Each test's verdict goes to stdout as ``INDEX 0|1``; whatever the tests print goes to stderr.

``main.py serve FD`` runs the candidate's ``candidate.py`` and answers those calls. Nothing it does in its own
process reaches the judge's; all it can send is data, and the judge compares that data itself.
"""

from __future__ import annotations

import builtins
import json
import os
import socket
import sys
from pathlib import Path
from typing import Any

LIMIT = 16 << 20  # bytes per message
_TAGS = ("tuple", "set", "frozenset", "dict", "bytes", "complex", "ref")


class RemoteError(Exception):
    """The candidate could not answer a call: it raised something unusual, broke the link or sent garbage."""


class RemoteFunction:
    """A function of the candidate's program, called across the sandbox boundary."""

    def __init__(self, link: Link, name: str) -> None:
        self.link, self.name = link, name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.link.call(self.name, args, kwargs)

    def __repr__(self) -> str:
        return f"<remote function {self.name}>"


def encode(value: Any) -> Any:
    """A JSON-ready form of plain data; builtin subclasses travel as their base type."""
    if value is None or type(value) is bool:
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, RemoteFunction):
        return {"ref": value.name}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, tuple):
        return {"tuple": [encode(v) for v in value]}
    if isinstance(value, dict):
        return {"dict": [[encode(k), encode(v)] for k, v in value.items()]}
    if isinstance(value, frozenset):
        return {"frozenset": [encode(v) for v in value]}
    if isinstance(value, set):
        return {"set": [encode(v) for v in value]}
    if isinstance(value, (bytes, bytearray)):
        return {"bytes": bytes(value).hex()}
    if isinstance(value, complex):
        return {"complex": [value.real, value.imag]}
    raise TypeError(f"a {type(value).__name__} cannot cross the sandbox boundary")


def decode(data: Any, resolve: Any) -> Any:
    """Exact builtin values from ``encode``'s form; ``resolve(name)`` turns a ``ref`` into a function."""
    if data is None or type(data) in (bool, int, float, str):
        return data
    if type(data) is list:
        return [decode(v, resolve) for v in data]
    if type(data) is not dict or len(data) != 1 or next(iter(data)) not in _TAGS:
        raise ValueError("malformed value")
    tag, body = next(iter(data.items()))
    if tag == "ref" and type(body) is str:
        return resolve(body)
    if tag == "bytes" and type(body) is str:
        return bytes.fromhex(body)
    if type(body) is not list:
        raise ValueError("malformed value")
    if tag == "complex" and len(body) == 2 and all(type(x) in (int, float) for x in body):
        return complex(body[0], body[1])
    items = [decode(v, resolve) for v in body]
    if tag == "tuple":
        return tuple(items)
    if tag == "set":
        return set(items)
    if tag == "frozenset":
        return frozenset(items)
    if tag == "dict" and all(type(pair) is list and len(pair) == 2 for pair in items):
        return {key: value for key, value in items}
    raise ValueError("malformed value")


def _send(sock: socket.socket, message: dict) -> None:
    sock.sendall(json.dumps(message).encode("utf-8") + b"\n")


def _receive(reader: Any) -> dict | None:
    """The next message, or None at end of stream; an oversized or malformed one raises ValueError."""
    line = reader.readline(LIMIT + 1)
    if not line:
        return None
    if not line.endswith(b"\n"):
        raise ValueError("message too large or cut short")
    message = json.loads(line)
    if type(message) is not dict:
        raise ValueError("malformed message")
    return message


class Link:
    """The judge's end of the socket: one call at a time; once broken, every later call fails at once."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.reader, self.broken = sock, sock.makefile("rb"), ""

    def call(self, name: str, args: tuple, kwargs: dict) -> Any:
        if self.broken:
            raise RemoteError(self.broken)
        request = {"call": name, "args": encode(list(args)), "kwargs": {k: encode(v) for k, v in kwargs.items()}}
        try:
            _send(self.sock, request)
            reply = _receive(self.reader)
            if reply is None:
                raise ConnectionError("the candidate's program exited")
            if "return" in reply:
                return decode(reply["return"], self.function)
        except (OSError, ValueError, RecursionError, MemoryError) as exc:
            self.broken = f"link to the candidate broken: {type(exc).__name__}: {exc}"[:500]
            raise RemoteError(self.broken) from None
        raise _remote_exception(reply)

    def function(self, name: str) -> RemoteFunction:
        return RemoteFunction(self, name)


def _remote_exception(reply: dict) -> Exception:
    """The candidate's exception as the builtin exception of that name (RemoteError when there is none)."""
    name, message = str(reply.get("raise", "")), str(reply.get("message", ""))[:1000]
    kind = getattr(builtins, name, None) if name.isidentifier() else None
    if isinstance(kind, type) and issubclass(kind, Exception) and kind.__module__ == "builtins":
        return kind(message)
    return RemoteError(f"{name}: {message}")


def judge(fd: int) -> None:
    """Run ``tests.py`` against the remote candidate; verdicts to stdout, each index at most once."""
    verdicts = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    link = Link(socket.socket(fileno=fd))
    names = json.loads(Path("remote.json").read_text())
    namespace: dict[str, Any] = {"__name__": "__tests__", **{name: link.function(name) for name in names}}
    reported: set[int] = set()

    def report(index: int, passed: bool) -> None:
        if index not in reported:
            reported.add(index)
            verdicts.write(f"{index} {1 if passed is True else 0}\n")

    namespace["_k2_report"] = report
    exec(compile(Path("tests.py").read_text(), "tests.py", "exec"), namespace)


def serve(fd: int) -> None:
    """Run ``candidate.py``, then answer the judge's calls until it hangs up."""
    sock = socket.socket(fileno=fd)
    namespace: dict[str, Any] = {"__name__": "__candidate__"}
    exec(compile(Path("candidate.py").read_text(), "candidate.py", "exec"), namespace)
    reader = sock.makefile("rb")
    while (request := _receive(reader)) is not None:
        try:
            function = namespace[request["call"]]
            args = decode(request["args"], namespace.__getitem__)
            kwargs = {k: decode(v, namespace.__getitem__) for k, v in request["kwargs"].items()}
            reply = {"return": encode(function(*args, **kwargs))}
        except Exception as exc:  # the candidate's exception is the answer
            reply = {"raise": type(exc).__name__, "message": str(exc)[:1000]}
        _send(sock, reply)


if __name__ == "__main__":
    if hasattr(sys, "set_int_max_str_digits"):  # big integers cross as digits; the message cap bounds them
        sys.set_int_max_str_digits(0)
    {"judge": judge, "serve": serve}[sys.argv[1]](int(sys.argv[2]))
