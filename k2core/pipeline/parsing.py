"""Tolerant JSON-object parsing of model output: fenced blocks, trailing prose, single quotes, trailing commas,
objects cut off by the token limit, and LaTeX written with single backslashes inside strings."""

from __future__ import annotations

import ast
import json
import re
from typing import Any

from k2core.verify import final_segment

_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
_DANGLING_KEY = re.compile(r"[,{]\s*(\"[^\"]*\"|'[^']*')\s*$")
_CUT_NUMBER = re.compile(r"(\d)[.eE+-]+$")
_PY_LITERALS = {"true": "True", "false": "False", "null": "None"}
# An escaped backslash, a \uXXXX escape, or a backslash before a run of letters (a JSON escape or a LaTeX command).
_BACKSLASH = re.compile(r"\\\\|\\u[0-9a-fA-F]{4}|\\([A-Za-z]+)")
# LaTeX commands that begin with a JSON escape letter (b f n r t): written with one backslash, JSON would read
# "\frac" as a form feed and "rac", "\boxed" as a backspace and "oxed", "\times" as a tab and "imes".
_LATEX_ON_ESCAPES = frozenset(
    "backslash bar because begin beta big bigcap bigcup binom bmod bot boxed bullet "
    "fbox forall frac "
    "nabla ne neg neq newline ngeq ni nleq nmid not notin nu "
    "rangle rbrace rceil rfloor rho right rightarrow rm "
    "tan tanh tau tbinom text textbf textit textrm texttt tfrac therefore theta tilde times to top triangle".split()
)


class ParseError(ValueError):
    """Model output held no usable JSON object; the message says why."""


def parse_json_object(text: str) -> dict[str, Any]:
    """The first JSON object in ``text`` (after ``</think>``), however it is wrapped; raises ParseError."""
    body = final_segment(text).strip()
    if not body:
        raise ParseError("empty output")
    body = _escape_latex(body)
    for chunk in [*(m.group(1) for m in _FENCE.finditer(body)), body]:
        found = _first_object(chunk)
        if found is not None:
            return found
    raise ParseError(f"no JSON object in output: {_preview(body)}")


def _escape_latex(text: str) -> str:
    """Double each backslash that starts a LaTeX command rather than a JSON escape: one before letters JSON cannot
    escape (``\\sqrt``, ``\\underline``), or before a known command that begins with an escape letter
    (``\\frac``, ``\\boxed``, ``\\neq``). ``\\n`` before ordinary words stays a newline."""

    def fix(match: re.Match[str]) -> str:
        word = match.group(1)
        if word is None or (word[0] in "bfnrt" and word not in _LATEX_ON_ESCAPES):
            return match.group()
        return "\\" + match.group()

    return _BACKSLASH.sub(fix, text)


def _first_object(text: str) -> dict[str, Any] | None:
    """Try each ``{`` in turn: strict JSON first, then a lenient repair of the balanced span."""
    decoder = json.JSONDecoder(strict=False)
    for start in (i for i, ch in enumerate(text) if ch == "{"):
        try:
            value, _ = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            span = _balanced_span(text, start)
            value = _lenient(span if span is not None else _close_truncated(text[start:]))
        if isinstance(value, dict):
            return value
    return None


class _QuoteScanner:
    """Walks text one character at a time, tracking whether it is inside a quoted string (with escapes)."""

    def __init__(self) -> None:
        self.quote, self.escaped = "", False

    def structural(self, ch: str) -> bool:
        """Advance over ``ch``; True when it is outside any string and not a quote that opens one."""
        if self.quote:
            if self.escaped:
                self.escaped = False
            elif ch == "\\":
                self.escaped = True
            elif ch == self.quote:
                self.quote = ""
            return False
        if ch in "\"'":
            self.quote = ch
            return False
        return True


def _balanced_span(text: str, start: int) -> str | None:
    """The text from ``start`` to its matching ``}``, honouring quoted strings; None when unbalanced."""
    depth, scanner = 0, _QuoteScanner()
    for i in range(start, len(text)):
        ch = text[i]
        if not scanner.structural(ch):
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[start : i + 1]
    return None


def _close_truncated(text: str) -> str:
    """Close an object cut off mid-way: end an open string, drop a dangling key or separator, close brackets."""
    closers: list[str] = []
    scanner = _QuoteScanner()
    for ch in text:
        if not scanner.structural(ch):
            continue
        if ch in "{[":
            closers.append("}" if ch == "{" else "]")
        elif ch in "}]" and closers:
            closers.pop()
    body = (text[:-1] if scanner.escaped else text) + scanner.quote
    body = _CUT_NUMBER.sub(r"\1", body.rstrip(" \t\n\r,:"))
    dangling = _DANGLING_KEY.search(body) if closers and closers[-1] == "}" else None
    if dangling and body[dangling.start()] == ",":
        body = body[: dangling.start()]
    elif dangling:
        body = body[: dangling.start() + 1]
    return body + "".join(reversed(closers))


def _lenient(span: str | None) -> Any:
    """Parse a near-JSON object: trailing commas removed, then as a Python literal (single quotes, True/None)."""
    if span is None:
        return None
    cleaned = _TRAILING_COMMA.sub(r"\1", span)
    try:
        return json.loads(cleaned, strict=False)
    except json.JSONDecodeError:
        pass
    pythonic = re.sub(r"\b(true|false|null)\b", lambda m: _PY_LITERALS[m.group(1)], cleaned)
    try:
        return ast.literal_eval(pythonic)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None


def _preview(text: str, limit: int = 80) -> str:
    """A short single-line excerpt for error reasons."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "…"
