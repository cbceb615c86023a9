"""One solve request: the problem and every per-request knob, defaulted from settings and validated."""

from __future__ import annotations

import json
import math
from typing import Any

from pydantic import BaseModel, Field

from k2core.config import Settings
from k2core.data.public_tests import problem_public_tests
from k2core.errors import ValidationError
from k2core.types import Demonstration, SamplingParams
from k2core.validation import (
    PromptBudget,
    validate_demonstrations,
    validate_engine_name,
    validate_n,
    validate_problem,
    validate_sampling,
)
from k2core.verify import DOMAINS

_SAMPLING_FIELDS = ("temperature", "top_p", "max_tokens", "seed", "stop")


class SolveRequest(BaseModel):
    """A problem to solve with plan, best-of-N and judge settings; no ground truth. ``system`` (a chat's system
    turn) goes to the solver before the demonstrations."""

    problem: str
    system: str | None = None
    n: int = 3
    plan: bool = True
    judge: bool = True
    params: SamplingParams = Field(default_factory=SamplingParams)
    domain: str = "math"
    public_tests: str | None = None
    adaptive: bool = False
    token_budget: int | None = None
    soft_deadline_s: float | None = None
    hard_deadline_s: float | None = None
    demonstrations: list[Demonstration] = Field(default_factory=list)

    def with_docstring_tests(self) -> SolveRequest:
        """A code request without public tests gets the worked examples of the problem's docstring as public tests
        (what the user wrote, never hidden tests); other requests are returned as they are."""
        if self.domain != "code" or self.public_tests is not None:
            return self
        derived = problem_public_tests(self.problem)
        return self if derived is None else self.model_copy(update={"public_tests": derived})

    @classmethod
    def from_settings(cls, problem: str, settings: Settings, **overrides: Any) -> SolveRequest:
        """Defaults from ``settings.pipeline``; overrides set to None are ignored, sampling ones go to ``params``."""
        p = settings.pipeline
        given = {key: value for key, value in overrides.items() if value is not None}
        params = SamplingParams(temperature=p.temperature, top_p=p.top_p, max_tokens=p.max_tokens, seed=p.seed)
        params = params.model_copy(update={k: given.pop(k) for k in _SAMPLING_FIELDS if k in given})
        fields: dict[str, Any] = {
            "n": p.n,
            "plan": p.plan,
            "judge": p.judge,
            "domain": p.domain,
            "adaptive": p.adaptive,
            "token_budget": p.token_budget,
            "soft_deadline_s": p.soft_deadline_s,
            "hard_deadline_s": p.hard_deadline_s,
        }
        return cls(problem=problem, params=params, **{**fields, **given})

    def check(self, settings: Settings, context_tokens: int | None) -> None:
        """Raise ValidationError naming the first bad field; ``max_tokens`` is checked against ``context_tokens``, the
        context of the solver engine that will serve the request (None: unknown here, checked where it is known)."""
        validate_problem(self.problem, settings)
        validate_n(self.n, settings)
        validate_demonstrations(self.demonstrations, settings)
        validate_sampling(self.params, context_tokens, settings.limits)
        budget = PromptBudget(settings)
        budget.add("problem", self.problem)
        budget.add("system", self.system or "")
        budget.add("demonstrations", *(text for d in self.demonstrations for text in (d.problem, d.response)))
        budget.add("stop", *self.params.stop)
        for role in ("planner", "solver", "judge"):
            validate_engine_name(getattr(settings, role).engine, f"{role}.engine")
        if self.domain not in DOMAINS:
            raise ValidationError("domain", f"unknown domain {self.domain!r}; expected one of {', '.join(DOMAINS)}")
        if self.public_tests is not None:
            _validate_public_tests(self.public_tests)
        if self.token_budget is not None and self.token_budget < 1:
            raise ValidationError("token_budget", f"must be >= 1, got {self.token_budget}")
        for name in ("soft_deadline_s", "hard_deadline_s"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ValidationError(name, f"must be a finite number > 0, got {value}")
        if self.soft_deadline_s and self.hard_deadline_s and self.soft_deadline_s > self.hard_deadline_s:
            raise ValidationError("soft_deadline_s", "must not exceed hard_deadline_s")


def _validate_public_tests(text: str) -> None:
    """Public tests must be a JSON object: HumanEval ``test``/``entry_point`` or stdin/stdout ``inputs``/``outputs``."""
    try:
        tests = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError("public_tests", f"must be JSON: {exc.msg}") from exc
    if not isinstance(tests, dict):
        raise ValidationError("public_tests", "must be a JSON object")
