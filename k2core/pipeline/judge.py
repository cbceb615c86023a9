"""The in-process Judge: a delimited, injection-resistant comparison prompt and a tolerant Verdict parser."""

from __future__ import annotations

import re
from typing import Any, Literal

from k2core.engines.base import Engine
from k2core.pipeline import templates
from k2core.pipeline.parsing import ParseError, parse_json_object
from k2core.pipeline.usage import usage_of
from k2core.roles import JudgeBase, JudgeOutcome
from k2core.types import Message, SamplingParams, Verdict

VERDICT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "winner": {"type": "string", "enum": ["A", "B", "tie"]},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "reason": {"type": "string", "maxLength": 200},
    },
    "required": ["winner", "confidence", "reason"],
}
_TAG = re.compile(r"<(\s*/?\s*candidate)", re.IGNORECASE)
_WINNERS: dict[str, Literal["A", "B", "tie"]] = {
    "a": "A",
    "candidate a": "A",
    "b": "B",
    "candidate b": "B",
    "tie": "tie",
    "draw": "tie",
    "none": "tie",
}


def neutralise(text: str, max_chars: int) -> str:
    """Escape anything that could open or close a candidate tag, and keep the last ``max_chars`` characters."""
    text = text if len(text) <= max_chars else "…" + text[-max_chars:]
    return _TAG.sub(r"&lt;\1", text)


def judge_messages(problem: str, a: str, b: str, max_chars: int = 6000) -> list[Message]:
    """The judge conversation: both candidates' final answers inside their own delimiters."""
    prompt = templates.render("judge", problem=problem, a=neutralise(a, max_chars), b=neutralise(b, max_chars))
    return [Message(role="user", content=prompt)]


def verdict_from_text(text: str) -> Verdict:
    """A Verdict from model output; raises ParseError when it names no winner."""
    obj = parse_json_object(text)
    winner = _WINNERS.get(str(obj.get("winner", "")).strip().lower())
    if winner is None:
        raise ParseError(f"winner must be A, B or tie, got {obj.get('winner')!r}")
    try:
        confidence = min(1.0, max(0.0, float(obj.get("confidence", 0.0))))
    except (TypeError, ValueError):
        confidence = 0.0
    return Verdict(winner=winner, confidence=confidence, reason=str(obj.get("reason", "")))


class EngineJudge(JudgeBase):
    """Judge role over an Engine; unusable output is a tie with the reason, never an error."""

    def __init__(self, engine: Engine, max_tokens: int = 192, max_answer_chars: int = 6000) -> None:
        self.engine = engine
        self.max_answer_chars = max_answer_chars
        self.params = SamplingParams(temperature=0.0, top_p=1.0, max_tokens=max_tokens, json_schema=VERDICT_SCHEMA)

    async def compare(self, problem: str, a: str, b: str) -> JudgeOutcome:
        """Which of ``a`` (shown first) and ``b`` better answers ``problem``."""
        messages = judge_messages(problem, a, b, self.max_answer_chars)
        completions = await self.engine.generate(messages, self.params, 1)
        usage = usage_of(completions)
        try:
            return JudgeOutcome(verdict=verdict_from_text(completions[0].text), usage=usage)
        except ParseError as exc:
            reason = f"unusable verdict: {exc}"
            return JudgeOutcome(verdict=Verdict(winner="tie", reason=reason), error=reason, usage=usage)
