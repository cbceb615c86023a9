"""Tolerant JSON-object parsing of model output: fenced blocks, trailing prose, single quotes, trailing commas."""

from __future__ import annotations

import ast
import json
import re
from typing import Any

from k2core.verify import final_segment

_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
_PY_LITERALS = {"true": "True", "false": "False", "null": "None"}


class ParseError(ValueError):
    """Model output held no usable JSON object; the message says why."""


def parse_json_object(text: str) -> dict[str, Any]:
    """The first JSON object in ``text`` (after ``</think>``), however it is wrapped; raises ParseError."""
    body = final_segment(text).strip()
    if not body:
        raise ParseError("empty output")
    for chunk in [*(m.group(1) for m in _FENCE.finditer(body)), body]:
        found = _first_object(chunk)
        if found is not None:
            return found
    raise ParseError(f"no JSON object in output: {_preview(body)}")


def _first_object(text: str) -> dict[str, Any] | None:
    """Try each ``{`` in turn: strict JSON first, then a lenient repair of the balanced span."""
    decoder = json.JSONDecoder()
    for start in (i for i, ch in enumerate(text) if ch == "{"):
        try:
            value, _ = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            value = _lenient(_balanced_span(text, start))
        if isinstance(value, dict):
            return value
    return None


def _balanced_span(text: str, start: int) -> str | None:
    """The text from ``start`` to its matching ``}``, honouring quoted strings; None when unbalanced."""
    depth, quote, escaped = 0, "", False
    for i in range(start, len(text)):
        ch = text[i]
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[start : i + 1]
    return None


def _lenient(span: str | None) -> Any:
    """Parse a near-JSON object: trailing commas removed, then as a Python literal (single quotes, True/None)."""
    if span is None:
        return None
    cleaned = _TRAILING_COMMA.sub(r"\1", span)
    try:
        return json.loads(cleaned)
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
