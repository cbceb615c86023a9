"""The reasoning pipeline: plan, best-of-N solve, verifier/majority/judge selection."""

from k2core.pipeline.events import (
    CandidateDeltaEvent,
    CandidateDoneEvent,
    FinalEvent,
    PlanEvent,
    SolveEvent,
    VerdictEvent,
)
from k2core.pipeline.request import SolveRequest
from k2core.pipeline.solve import Pipeline

__all__ = [
    "CandidateDeltaEvent",
    "CandidateDoneEvent",
    "FinalEvent",
    "Pipeline",
    "PlanEvent",
    "SolveEvent",
    "SolveRequest",
    "VerdictEvent",
]
