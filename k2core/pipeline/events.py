"""Stage events of one solve, in order: plan, candidate deltas and completions, verdicts, final."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from k2core.types import Candidate, Comparison, Plan, SolveResult, Usage


class PlanEvent(BaseModel):
    """The plan (or None with the reason) and what the planner cost."""

    kind: Literal["plan"] = "plan"
    plan: Plan | None
    error: str | None = None
    usage: Usage = Field(default_factory=Usage)


class CandidateDeltaEvent(BaseModel):
    """A piece of text of candidate ``index``."""

    kind: Literal["candidate_delta"] = "candidate_delta"
    index: int
    text: str


class CandidateDoneEvent(BaseModel):
    """Candidate ``candidate.index`` finished; its answer is extracted."""

    kind: Literal["candidate_done"] = "candidate_done"
    candidate: Candidate


class VerdictEvent(BaseModel):
    """One pair judged in both orders."""

    kind: Literal["verdict"] = "verdict"
    comparison: Comparison


class FinalEvent(BaseModel):
    """The full answer record; always the last event."""

    kind: Literal["final"] = "final"
    result: SolveResult


SolveEvent = Annotated[
    PlanEvent | CandidateDeltaEvent | CandidateDoneEvent | VerdictEvent | FinalEvent, Field(discriminator="kind")
]
