"""The in-process Judge: a delimited, injection-resistant comparison prompt, a tolerant Verdict parser, and an
optional position calibration from the log-probabilities of "A" and "B" in both orders."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any, Literal

from k2core.engines.base import Engine
from k2core.pipeline import templates
from k2core.pipeline.parsing import ParseError, parse_json_object
from k2core.pipeline.select import calibrated_log_odds
from k2core.pipeline.usage import usage_of
from k2core.roles import JudgeBase, JudgeOutcome, PairOutcome
from k2core.types import Message, SamplingParams, TokenLogprob, Verdict

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
_WINNER_VALUE = re.compile(r'"winner"\s*:\s*"\s*(\S)')
CALIBRATION_TOP_LOGPROBS = 20  # alternatives per token: "A" and "B" are both among them at the winner slot
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


def winner_margin(logprobs: Sequence[TokenLogprob]) -> float | None:
    """log P("A") - log P("B") at the token that writes the first character of the verdict's ``winner`` value
    (alternatives grouped by the character they would write there); None without log-probabilities at that token.
    A letter missing from the alternatives counts at the least likely alternative's log-probability (a bound)."""
    text = ""
    for step in logprobs:
        if _WINNER_VALUE.search(text + step.token):
            letters: dict[str, list[float]] = {"A": [], "B": []}
            for alt, logprob in step.top.items():
                found = _WINNER_VALUE.search(text + alt)
                if found and found.group(1) in letters:
                    letters[found.group(1)].append(logprob)
            if not step.top or not (letters["A"] or letters["B"]):
                return None
            floor = min(step.top.values())
            a, b = (_logsumexp(letters[x]) if letters[x] else floor for x in ("A", "B"))
            return a - b
        text += step.token
    return None


def _logsumexp(values: Sequence[float]) -> float:
    peak = max(values)
    return peak + math.log(sum(math.exp(v - peak) for v in values))


def calibrated(pair: PairOutcome) -> PairOutcome:
    """Both orders' verdicts decided by their margins (``calibrated_log_odds``): ``a``, shown first in ``ab``,
    wins both orders when its position-free log-odds are positive, ``b`` when negative; the pair is left as it was
    when either margin is missing."""
    log_odds = calibrated_log_odds(pair.ab.verdict, pair.ba.verdict)
    if log_odds is None:
        return pair
    said = f"said {pair.ab.verdict.winner} then {pair.ba.verdict.winner}"
    reason = f"position-calibrated log-odds {log_odds:+.3f} for the answer shown first in ab ({said})"
    confidence = 1 / (1 + math.exp(-abs(log_odds)))
    ab: Literal["A", "B", "tie"] = "A" if log_odds > 0 else "B" if log_odds < 0 else "tie"
    ba: Literal["A", "B", "tie"] = {"A": "B", "B": "A", "tie": "tie"}[ab]  # type: ignore[assignment]

    def decided(outcome: JudgeOutcome, winner: Literal["A", "B", "tie"]) -> JudgeOutcome:
        verdict = outcome.verdict.model_copy(update={"winner": winner, "confidence": confidence, "reason": reason})
        return outcome.model_copy(update={"verdict": verdict})

    return PairOutcome(ab=decided(pair.ab, ab), ba=decided(pair.ba, ba))


class EngineJudge(JudgeBase):
    """Judge role over an Engine; unusable output is a tie with the reason, never an error. With ``calibrate``
    it asks for log-probabilities and ``compare_both`` decides by the position-calibrated margin (see
    ``calibrated``), which an engine without log-probabilities leaves to the verdicts as written."""

    def __init__(
        self, engine: Engine, max_tokens: int = 192, max_answer_chars: int = 6000, *, calibrate: bool = False
    ) -> None:
        self.engine = engine
        self.max_answer_chars = max_answer_chars
        self.calibrate = calibrate
        self.params = SamplingParams(
            temperature=0.0,
            top_p=1.0,
            max_tokens=max_tokens,
            json_schema=VERDICT_SCHEMA,
            top_logprobs=CALIBRATION_TOP_LOGPROBS if calibrate else 0,
        )

    async def compare(self, problem: str, a: str, b: str) -> JudgeOutcome:
        """Which of ``a`` (shown first) and ``b`` better answers ``problem``."""
        messages = judge_messages(problem, a, b, self.max_answer_chars)
        completions = await self.engine.generate(messages, self.params, 1)
        usage = usage_of(completions)
        margin = winner_margin(completions[0].logprobs or []) if self.calibrate else None
        try:
            verdict = verdict_from_text(completions[0].text).model_copy(update={"margin": margin})
            return JudgeOutcome(verdict=verdict, usage=usage)
        except ParseError as exc:
            reason = f"unusable verdict: {exc}"
            return JudgeOutcome(verdict=Verdict(winner="tie", reason=reason, margin=margin), error=reason, usage=usage)

    async def compare_both(self, problem: str, a: str, b: str) -> PairOutcome:
        """``a`` vs ``b`` with each shown first, at once; position-calibrated when ``calibrate`` is on."""
        pair = await super().compare_both(problem, a, b)
        return calibrated(pair) if self.calibrate else pair
