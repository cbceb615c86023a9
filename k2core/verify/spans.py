"""Answer spans shared by the structured graders: ``\\boxed{}``, fenced blocks, ``Answer:`` lines, JSON truths."""

from __future__ import annotations

import json
import re
from typing import Any

from k2core.verify.base import GroundTruthError, final_segment

_MAX_ANSWER_CHARS = 20_000  # answers sit at the end: only this much of a response is searched
_MAX_BOXES = 20

_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_FENCE_TAG = re.compile(r"[ \t]*[\w+-]*[ \t]*")
_ANSWER = re.compile(r"(?im)^[ \t>*#_-]*(?:final\s+)?(?:answer|output)\b[^:\n]{0,24}:[ \t*_]*(.*)$")
_TEXT = re.compile(r"\\(?:text|textbf|mathrm)\s*\{([^{}]*)\}")


def last_boxed(text: str) -> tuple[int, str] | None:
    """Position and content of the last ``\\boxed{...}`` with balanced braces."""
    for match in reversed(list(_BOXED.finditer(text))[-_MAX_BOXES:]):
        depth, start = 1, match.end()
        for i in range(start, min(len(text), start + _MAX_ANSWER_CHARS)):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            if depth == 0:
                return match.start(), text[start:i]
    return None


def last_fenced(text: str) -> tuple[int, str] | None:
    """Position and content of the last closed fenced code block (its language tag line dropped)."""
    parts = text.split("```")
    closed = (len(parts) - 1) // 2
    if not closed:
        return None
    inner = 2 * closed - 1
    header, newline, body = parts[inner].partition("\n")
    content = body if newline and _FENCE_TAG.fullmatch(header) else parts[inner]
    return len("```".join(parts[:inner])), content


def answer_line(text: str) -> tuple[int, str] | None:
    """Position and text of the last ``Answer:`` / ``Output:`` line (or the lines under it up to a blank line)."""
    matches = list(_ANSWER.finditer(text))
    if not matches:
        return None
    match = matches[-1]
    if match.group(1).strip():
        return match.start(), match.group(1)
    below = text[match.end() :].lstrip("\n").split("\n\n", 1)[0]
    return (match.start(), below) if below.strip() else None


def unwrap_latex(text: str) -> str:
    """Drop LaTeX text wrappers (``\\text{...}``) and math dollars."""
    return _TEXT.sub(r"\1", text).replace("$", "")


def clean(text: str) -> str:
    """Strip LaTeX text wrappers, math dollars, bold marks and surrounding quotes from an answer span."""
    return unwrap_latex(text).replace("**", "").strip().strip("`\"'").strip()


def answer_span(response: str) -> str | None:
    """The raw final answer span after ``</think>``: whichever of boxed, fenced or ``Answer:`` comes last."""
    segment = final_segment(response)[-_MAX_ANSWER_CHARS:]
    spans = [s for s in (last_boxed(segment), last_fenced(segment), answer_line(segment)) if s is not None]
    return max(spans)[1] if spans else None


def answer_text(response: str) -> str | None:
    """The final answer span, cleaned of LaTeX text wrappers and markup."""
    span = answer_span(response)
    return None if span is None else clean(span)


def last_line(response: str) -> str | None:
    """The last non-empty line after ``</think>``, as a fallback answer span."""
    lines = [line for line in final_segment(response)[-_MAX_ANSWER_CHARS:].splitlines() if line.strip()]
    return lines[-1] if lines else None


def parse_truth(ground_truth: str, kinds: tuple[str, ...]) -> dict[str, Any]:
    """A JSON ground truth with a known ``kind`` and an ``answer``; anything else is a GroundTruthError."""
    try:
        truth = json.loads(ground_truth)
    except (TypeError, ValueError) as exc:
        raise GroundTruthError(f"ground truth is not JSON: {str(ground_truth)[:80]!r}") from exc
    if not isinstance(truth, dict) or truth.get("kind") not in kinds:
        raise GroundTruthError(f"ground truth needs 'kind' in {kinds}: {str(ground_truth)[:80]!r}")
    return truth
