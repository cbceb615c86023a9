"""The data that flows through k2core: messages, sampling parameters, completions and results."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

ChatRole = Literal["system", "user", "assistant"]


class Message(BaseModel):
    """One chat message."""

    role: ChatRole
    content: str


class SamplingParams(BaseModel):
    """How to sample one request; validated by ``k2core.validation``."""

    temperature: float = 1.0
    top_p: float = 0.95
    max_tokens: int = 1024
    seed: int | None = None
    stop: list[str] = Field(default_factory=list)
    json_schema: dict[str, Any] | None = None
    top_logprobs: int = 0  # log-probabilities of this many most likely tokens at each generated position (0: none)

    def with_seed(self, seed: int | None) -> SamplingParams:
        return self.model_copy(update={"seed": seed})


class Demonstration(BaseModel):
    """A worked example shown to the solver before the problem (few-shot): a problem and the response to imitate."""

    problem: str
    response: str


class SpecDecodeStats(BaseModel):
    """Engine-reported speculative decoding figures."""

    method: str
    draft_tokens: int = 0
    accepted_tokens: int = 0

    @property
    def acceptance_rate(self) -> float:
        return self.accepted_tokens / self.draft_tokens if self.draft_tokens else 0.0


class TokenLogprob(BaseModel):
    """One generated token: its text, its log-probability and the most likely alternatives at its position
    (from the model's distribution before sampling constraints, as vLLM and the OpenAI API report them)."""

    token: str
    logprob: float
    top: dict[str, float] = Field(default_factory=dict)


class Completion(BaseModel):
    """One generated sequence with its cost."""

    text: str
    finish_reason: str = "stop"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    spec_decode: SpecDecodeStats | None = None
    logprobs: list[TokenLogprob] | None = None  # one per completion token when ``top_logprobs`` asked for them


class Delta(BaseModel):
    """A streamed piece of one sequence; the last one carries ``finish_reason`` and token counts."""

    text: str = ""
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0


class Plan(BaseModel):
    """The planner's output: ``{is_hard, plan, search_terms}`` plus what it cost."""

    is_hard: bool = True
    plan: str = ""
    search_terms: list[str] = Field(default_factory=list)


class Candidate(BaseModel):
    """One solver sample with its extracted answer."""

    index: int
    text: str
    answer: str | None = None
    finish_reason: str = "stop"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    verifier_score: float | None = None


class Verdict(BaseModel):
    """One judge call: which of the two shown candidates is better."""

    winner: Literal["A", "B", "tie"] = "tie"
    confidence: float = 0.0
    reason: str = ""
    margin: float | None = None  # log P("A") - log P("B") at the winner slot, where the engine reports log-probs


class Comparison(BaseModel):
    """A pair judged in both orders; ``winner`` is a candidate index or None for a tie."""

    round: int
    a: int
    b: int
    verdict_ab: Verdict
    verdict_ba: Verdict
    winner: int | None
    tiebreak: str | None = None


class Selection(BaseModel):
    """How the answer was chosen: method, groups of equivalent answers, every judge comparison."""

    method: Literal["single", "verifier", "answered", "majority", "judge", "first"] = "single"
    selected: int = 0
    groups: list[list[int]] = Field(default_factory=list)
    comparisons: list[Comparison] = Field(default_factory=list)
    reason: str = ""


class Usage(BaseModel):
    """Tokens, seconds, calls and optional cost of one role."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    calls: int = 0
    cost_usd: float | None = None

    def add(self, other: Usage) -> Usage:
        cost = (
            None if self.cost_usd is None and other.cost_usd is None else (self.cost_usd or 0) + (other.cost_usd or 0)
        )
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            seconds=self.seconds + other.seconds,
            calls=self.calls + other.calls,
            cost_usd=cost,
        )


class SolveResult(BaseModel):
    """The full answer record of one request."""

    answer: str | None
    final_text: str
    plan: Plan | None
    plan_error: str | None = None
    candidates: list[Candidate]
    selected: int
    selection: Selection
    usage: dict[str, Usage]
    timings_s: dict[str, float]
    deadline: Literal["none", "soft"] = "none"

    def to_json_dict(self) -> dict[str, Any]:
        """The ``--json`` shape of the CLI and the gateway."""
        data = self.model_dump(mode="json")
        for cand in data["candidates"]:
            cand.pop("prompt_tokens", None)
        return data
