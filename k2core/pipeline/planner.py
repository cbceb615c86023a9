"""The in-process Planner: asks an engine for ``{is_hard, plan, search_terms}`` JSON and parses it tolerantly."""

from __future__ import annotations

from typing import Any

from k2core.engines.base import Engine
from k2core.pipeline import templates
from k2core.pipeline.parsing import ParseError, parse_json_object
from k2core.pipeline.usage import usage_of
from k2core.roles import PlanOutcome
from k2core.types import Message, Plan, SamplingParams

PLAN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "is_hard": {"type": "boolean"},
        "plan": {"type": "string"},
        "search_terms": {"type": "array", "items": {"type": "string", "maxLength": 40}, "maxItems": 5},
    },
    "required": ["is_hard", "plan", "search_terms"],
}


def planner_messages(problem: str) -> list[Message]:
    """The planner conversation: the planning prompt around ``problem``."""
    return [Message(role="user", content=templates.render("planner", problem=problem))]


class EnginePlanner:
    """Planner role over an Engine; malformed output gives no plan and the reason, never an error."""

    def __init__(self, engine: Engine, max_tokens: int = 384, temperature: float = 0.0) -> None:
        self.engine = engine
        self.params = SamplingParams(temperature=temperature, top_p=1.0, max_tokens=max_tokens, json_schema=PLAN_SCHEMA)

    async def plan(self, problem: str) -> PlanOutcome:
        """Ask the engine for a plan of ``problem``."""
        completions = await self.engine.generate(planner_messages(problem), self.params, 1)
        usage = usage_of(completions)
        try:
            return PlanOutcome(plan=plan_from_text(completions[0].text), usage=usage)
        except ParseError as exc:
            return PlanOutcome(plan=None, error=f"unusable plan: {exc}", usage=usage)


def plan_from_text(text: str) -> Plan:
    """A Plan from model output; raises ParseError when it holds no usable plan."""
    return plan_from_object(parse_json_object(text))


def plan_from_object(obj: dict[str, Any]) -> Plan:
    """Coerce a parsed object into a Plan: plan text may be a list of steps, terms a comma-separated string."""
    text = obj.get("plan")
    if isinstance(text, list):
        text = "\n".join(str(step) for step in text)
    if not isinstance(text, str) or not text.strip():
        raise ParseError("the object has no non-empty 'plan' text")
    terms = obj.get("search_terms", [])
    if isinstance(terms, str):
        terms = [t for t in (part.strip() for part in terms.split(",")) if t]
    if not isinstance(terms, list):
        terms = []
    return Plan(is_hard=_truthy(obj.get("is_hard", True)), plan=text.strip(), search_terms=[str(t) for t in terms])


def _truthy(value: Any) -> bool:
    """JSON booleans, and the strings models write for them."""
    if isinstance(value, str):
        return value.strip().lower() in {"true", "yes", "1", "hard"}
    return bool(value)
