"""verl-style rewards: ``compute_score(data_source, solution_str, ground_truth, extra_info)`` over k2core.verify.

Use as verl's ``custom_reward_function`` (path = this file, name = ``compute_score``).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from k2core.verify import DOMAINS, GroundTruthError, Score, get_grader

log = logging.getLogger(__name__)

_DATASETS = {
    "aime24": "math",
    "aime25": "math",
    "amc23": "math",
    "math500": "math",
    "gsm8k": "math",
    "gsm8k_test": "math",
    "gsm8k_train": "math",
    "humaneval": "code",
    "openai_humaneval": "code",
    "gpqa_diamond": "science",
}
# Dataset families recognised by name prefix (e.g. "lighteval/MATH", "HuggingFaceH4/MATH-500", "Idavidrein/gpqa").
_FAMILIES = (
    ("aime", "math"),
    ("amc", "math"),
    ("math", "math"),
    ("gsm8k", "math"),
    ("hmmt", "math"),
    ("omni", "math"),
    ("humaneval", "code"),
    ("mbpp", "code"),
    ("livecodebench", "code"),
    ("gpqa", "science"),
)


def domain_of(data_source: str) -> str:
    """The verification domain of a data source: a domain, a known dataset or a ``gen:<name>`` set."""
    name = data_source.strip().lower()
    if name in DOMAINS:
        return name
    if name.startswith("gen:"):
        return _generated_domain(data_source, name)
    short = name.rsplit("/", 1)[-1].replace("-", "_")
    if short in _DATASETS:
        return _DATASETS[short]
    for prefix, domain in _FAMILIES:
        if short.startswith(prefix):
            return domain
    raise ValueError(f"data_source: unknown data source {data_source!r}")


def _generated_domain(data_source: str, name: str) -> str:
    """Each generator declares its grading domain (``gen:countdown`` -> simulation)."""
    from k2core.data import dataset_domain  # imported here: k2core.data pulls in pyarrow

    try:
        return dataset_domain(name)
    except ValueError:
        raise ValueError(f"data_source: unknown data source {data_source!r}") from None


def _item(data_source: str, extra_info: dict | None) -> str:
    """How an error names the item: data source plus id/index when verl passed one."""
    extra = extra_info or {}
    key = next((extra[k] for k in ("id", "index", "item_id") if extra.get(k) is not None), None)
    return data_source if key is None else f"{data_source} item {key}"


def _as_text(value: Any) -> str:
    """Ground truth as the graders read it: strings as-is, structures as JSON, numbers as text."""
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _format_ok(response: str, extracted: str | None) -> bool:
    """Well-formed: a closed think block when one was opened, and a gradable final answer."""
    return extracted is not None and ("<think>" not in response or "</think>" in response)


def score_details(data_source: str, solution_str: Any, ground_truth: Any, extra_info: dict | None = None) -> Score:
    """The full Score (with extracted answer and reason); raises on a malformed ground truth only."""
    grader = get_grader(domain_of(data_source))
    if not isinstance(solution_str, str):
        return Score(0.0, False, None, f"response is {type(solution_str).__name__}, not text")
    try:
        return grader.grade(solution_str, _as_text(ground_truth))
    except GroundTruthError as exc:
        raise GroundTruthError(f"{_item(data_source, extra_info)}: {exc}") from exc
    except Exception as exc:  # model output must never crash training
        log.warning("grading failed for %s", _item(data_source, extra_info), exc_info=True)
        return Score(0.0, False, None, f"response could not be graded: {type(exc).__name__}: {exc}")


def compute_score(
    data_source: str,
    solution_str: Any,
    ground_truth: Any,
    extra_info: dict | None = None,
    format_weight: float = 0.0,
) -> float:
    """Reward in [0, 1]; ``format_weight`` (verl ``reward_kwargs``) mixes in a well-formed-answer bonus."""
    if not 0.0 <= format_weight <= 1.0:
        raise ValueError(f"format_weight: {format_weight} is outside [0, 1]")
    score = score_details(data_source, solution_str, ground_truth, extra_info)
    if format_weight == 0:
        return float(score.score)
    well_formed = isinstance(solution_str, str) and _format_ok(solution_str, score.extracted)
    return float((1 - format_weight) * score.score + format_weight * well_formed)
