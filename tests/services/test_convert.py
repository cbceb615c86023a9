"""Protobuf <-> k2core conversions keep every field, including unset optionals and nested records."""

from __future__ import annotations

import pytest

from k2core.config import Settings
from k2core.errors import ValidationError
from k2core.pipeline import CandidateDeltaEvent, CandidateDoneEvent, FinalEvent, PlanEvent, SolveRequest, VerdictEvent
from k2core.roles import JudgeOutcome, PlanOutcome
from k2core.types import Candidate, Comparison, Demonstration, Plan, Selection, SolveResult, Usage, Verdict
from services import convert
from services.gen.k2think.v1 import common_pb2, reasoner_pb2

RESULT = SolveResult(
    answer=None,
    final_text="4",
    plan=None,
    plan_error="unusable plan",
    candidates=[Candidate(index=0, text="t", answer="4", verifier_score=1.0), Candidate(index=1, text="u")],
    selected=0,
    selection=Selection(
        method="judge",
        groups=[[0], [1]],
        comparisons=[Comparison(round=0, a=0, b=1, verdict_ab=Verdict(winner="A"), verdict_ba=Verdict(), winner=None)],
    ),
    usage={"solver": Usage(prompt_tokens=3, calls=2), "total": Usage(cost_usd=0.5)},
    timings_s={"total": 1.5},
)


def test_solve_result_round_trips() -> None:
    assert convert.solve_result_from_proto(convert.solve_result_to_proto(RESULT)) == RESULT


@pytest.mark.parametrize(
    "event",
    [
        PlanEvent(plan=None, error="bad"),
        PlanEvent(plan=Plan(plan="p", search_terms=["a"]), usage=Usage(calls=1)),
        CandidateDeltaEvent(index=1, text="hi"),
        CandidateDoneEvent(candidate=RESULT.candidates[0]),
        VerdictEvent(comparison=RESULT.selection.comparisons[0]),
        FinalEvent(result=RESULT),
    ],
)
def test_events_round_trip(event: object) -> None:
    assert convert.event_from_proto(convert.event_to_proto(event)) == event


@pytest.mark.parametrize(
    "outcome", [PlanOutcome(plan=None, error="no json"), PlanOutcome(plan=Plan(plan="p"), usage=Usage(prompt_tokens=4))]
)
def test_plan_outcomes_round_trip(outcome: PlanOutcome) -> None:
    assert convert.plan_outcome_from_proto(convert.plan_outcome_to_proto(outcome)) == outcome


@pytest.mark.parametrize("margin", [None, 0.0, -0.75])
def test_judge_outcome_round_trips(margin: float | None) -> None:
    outcome = JudgeOutcome(verdict=Verdict(winner="B", confidence=0.5, reason="r", margin=margin), usage=Usage(calls=1))
    assert convert.judge_outcome_from_proto(convert.judge_outcome_to_proto(outcome)) == outcome


def test_unset_request_fields_take_the_settings_defaults() -> None:
    settings = Settings()
    request = convert.solve_request_from_proto(reasoner_pb2.SolveRequest(problem="p", params={"top_p": 0.5}), settings)
    assert request == SolveRequest.from_settings("p", settings, top_p=0.5)
    demos = [Demonstration(problem="q1", response="r1"), Demonstration(problem="q2", response="r2")]
    explicit = SolveRequest.from_settings(
        "p", settings, n=5, plan=False, seed=3, hard_deadline_s=9.0, demonstrations=demos
    )
    assert convert.solve_request_from_proto(convert.solve_request_to_proto(explicit), settings) == explicit


def test_bad_json_schema_names_the_field() -> None:
    with pytest.raises(ValidationError) as caught:
        convert.params_from_proto(common_pb2.SamplingParams(json_schema="{"), convert.default_params(Settings()), Settings())
    assert caught.value.field == "params.json_schema"
