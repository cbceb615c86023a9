"""SolveRequest defaults, overrides and validation (each bad field named)."""

import math

import pytest

from k2core.config import Settings
from k2core.errors import TooLargeError, ValidationError
from k2core.pipeline import Pipeline
from k2core.pipeline.request import SolveRequest


@pytest.fixture
def settings() -> Settings:
    return Settings()


def test_from_settings_takes_pipeline_defaults(settings: Settings) -> None:
    req = SolveRequest.from_settings("What is 2+2?", settings)
    p = settings.pipeline
    assert (req.n, req.plan, req.judge, req.domain) == (p.n, p.plan, p.judge, p.domain)
    assert (req.params.temperature, req.params.top_p, req.params.max_tokens) == (1.0, 0.95, p.max_tokens)
    assert req.public_tests is None


def test_overrides_route_sampling_fields_and_ignore_none(settings: Settings) -> None:
    req = SolveRequest.from_settings("q", settings, n=5, temperature=0.3, max_tokens=64, seed=7, plan=False, judge=None)
    assert (req.n, req.plan, req.judge) == (5, False, True)
    assert (req.params.temperature, req.params.max_tokens, req.params.seed) == (0.3, 64, 7)


def test_round_trips_through_json(settings: Settings) -> None:
    req = SolveRequest.from_settings("q", settings, domain="code", public_tests='{"inputs": ["1"], "outputs": ["1"]}')
    assert SolveRequest.model_validate_json(req.model_dump_json()) == req


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"problem": "   "}, "problem"),
        ({"problem": ""}, "problem"),
        ({"n": 0}, "n"),
        ({"n": 17}, "n"),
        ({"temperature": -0.1}, "temperature"),
        ({"temperature": math.nan}, "temperature"),
        ({"temperature": math.inf}, "temperature"),
        ({"top_p": math.nan}, "top_p"),
        ({"hard_deadline_s": math.inf}, "hard_deadline_s"),
        ({"top_p": 0.0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": 8193}, "max_tokens"),
        ({"domain": "poetry"}, "domain"),
        ({"domain": "code", "public_tests": "not json"}, "public_tests"),
        ({"domain": "code", "public_tests": "[1]"}, "public_tests"),
        ({"token_budget": 0}, "token_budget"),
        ({"soft_deadline_s": 0}, "soft_deadline_s"),
        ({"hard_deadline_s": -1}, "hard_deadline_s"),
        ({"soft_deadline_s": 5, "hard_deadline_s": 2}, "soft_deadline_s"),
    ],
)
def test_bad_fields_are_named(settings: Settings, overrides: dict, field: str) -> None:
    problem = overrides.pop("problem", "What is 2+2?")
    req = SolveRequest.from_settings(problem, settings, **overrides)
    with pytest.raises(ValidationError) as info:
        req.check(settings, context_tokens=8192)
    assert info.value.field == field


@pytest.mark.parametrize(
    ("stop", "field"),
    [(["\n"] * 17, "stop"), (["ok", ""], "stop[1]"), (["x" * 257], "stop[0]"), (["é" * 129], "stop[0]")],
)
def test_stop_strings_are_bounded_in_count_and_length(settings: Settings, stop: list[str], field: str) -> None:
    req = SolveRequest.from_settings("q", settings)
    req.params.stop = stop
    with pytest.raises(ValidationError, match=r"limits\.max_stop_(sequences|bytes)|must not be empty") as info:
        req.check(settings, None)
    assert info.value.field == field


def test_deeply_nested_json_schema_is_refused(settings: Settings) -> None:
    schema: dict = {}
    for _ in range(2000):
        schema = {"items": schema}
    req = SolveRequest.from_settings("q", settings)
    req.params.json_schema = schema
    with pytest.raises(ValidationError, match="deeper than 32") as info:
        req.check(settings, None)
    assert info.value.field == "json_schema"


@pytest.mark.parametrize("field", ["system", "stop"])
def test_system_turn_and_stop_strings_count_in_the_prompt_limit(settings: Settings, field: str) -> None:
    settings.limits.max_prompt_bytes = 600
    req = SolveRequest.from_settings("p" * 400, settings, system="s" * 100)
    req.params.stop = ["x" * 250] if field == "stop" else []
    if field == "system":
        req.system = "s" * 201
    with pytest.raises(TooLargeError, match=r"limits\.max_prompt_bytes") as info:
        req.check(settings, None)
    assert info.value.field == field


def test_unknown_engine_is_named(settings: Settings) -> None:
    bad = settings.model_copy(update={"judge": settings.judge.model_copy(update={"engine": "gpt-bogus"})})
    with pytest.raises(ValidationError) as info:
        SolveRequest.from_settings("q", bad).check(bad, None)
    assert info.value.field == "judge.engine"


def test_oversized_problem_is_too_large(settings: Settings) -> None:
    with pytest.raises(TooLargeError) as info:
        SolveRequest.from_settings("x" * (settings.limits.max_prompt_bytes + 1), settings).check(settings, None)
    assert info.value.field == "problem"


def test_max_tokens_is_checked_against_the_given_context_only(settings: Settings) -> None:
    req = SolveRequest.from_settings("q", settings, max_tokens=9000)
    req.check(settings, context_tokens=16384)
    req.check(settings, context_tokens=None)
    with pytest.raises(ValidationError) as info:
        req.check(settings, context_tokens=8192)
    assert info.value.field == "max_tokens"


@pytest.mark.parametrize(("engine", "context"), [("embedded", 2048), ("openai", None)])
def test_the_pipeline_validates_against_the_engine_it_built(settings: Settings, engine: str, context: int | None) -> None:
    settings = settings.model_copy(deep=True)
    for role in ("planner", "solver", "judge"):
        getattr(settings, role).engine = engine
    settings.solver.embedded.n_ctx = 2048
    pipeline = Pipeline.in_process(settings)
    assert pipeline.solver.context_tokens == context
    req = SolveRequest.from_settings("q", settings, max_tokens=4096)
    if context is None:
        pipeline.validate(req)
    else:
        with pytest.raises(ValidationError) as info:
            pipeline.validate(req)
        assert info.value.field == "max_tokens"


@pytest.mark.parametrize("top_logprobs", [-1, 21])
def test_top_logprobs_are_bounded(top_logprobs: int) -> None:
    from k2core.config import LimitsSettings
    from k2core.types import SamplingParams
    from k2core.validation import validate_sampling

    with pytest.raises(ValidationError) as info:
        validate_sampling(SamplingParams(top_logprobs=top_logprobs), 8192, LimitsSettings(), prefix="params.")
    assert info.value.field == "params.top_logprobs" and "[0, 20]" in info.value.message
    validate_sampling(SamplingParams(top_logprobs=20), 8192, LimitsSettings())
