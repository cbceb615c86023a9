"""Few-shot demonstrations for a dataset: worked examples drawn apart from the evaluated problems.

A base model (the embedded Gemma 3 270M is one) follows the answer format only when shown it; instruction-tuned
models need none. Each demonstration's response is written so that the domain's own grader accepts it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from pydantic import ValidationError

from k2core.data.datasets import GEN_PREFIX, load_dataset
from k2core.data.problem import Problem
from k2core.errors import FewshotError
from k2core.types import Demonstration

DEMO_SEED_OFFSET = 1_000_003  # generated demonstrations come from a seed no evaluation uses by default
_POOL_FACTOR = 8


def worked_response(problem: Problem) -> str:
    """A short worked response ending in the final answer in the form the domain's grader reads."""
    steps = _steps(problem)
    final = _final(problem)
    return f"{steps}\n{final}" if steps else final


def _steps(problem: Problem) -> str:
    expression = problem.meta.get("expression")
    if isinstance(expression, str):
        return f"{expression} = {problem.answer}."
    solution = problem.meta.get("solution")
    if problem.domain == "math" and isinstance(solution, str) and "\\boxed" not in solution:
        return solution.strip()
    return ""


def _final(problem: Problem) -> str:
    if problem.domain == "math":
        return f"The final answer is \\boxed{{{problem.answer}}}."
    if problem.domain == "code" and isinstance(problem.meta.get("canonical_solution"), str):
        return f"```python\n{_code_prompt(problem)}{problem.meta['canonical_solution']}```"
    try:
        truth = json.loads(problem.answer)
    except json.JSONDecodeError:
        return f"Answer: {problem.answer}"
    kind = truth.get("kind") if isinstance(truth, dict) else None
    if kind == "countdown" and isinstance(problem.meta.get("solution"), str):
        return f"\\boxed{{{problem.meta['solution']}}}"
    if kind == "program_output":
        return f"```output\n{truth['output']}\n```"
    if isinstance(truth, dict) and "answer" in truth:
        return f"Answer: {json.dumps(truth['answer'])}"
    raise FewshotError(f"problems of kind {kind!r} have no demonstration format")


def _code_prompt(problem: Problem) -> str:
    """The function header of a HumanEval-style prompt (the part of the prompt the solution completes)."""
    start = problem.prompt.find("```python\n")
    end = problem.prompt.find("```", start + 10)
    if start < 0 or end < 0:
        raise FewshotError(f"code problem {problem.id!r} has no fenced function header")
    return problem.prompt[start + len("```python\n") : end]


def demonstrations(
    dataset: str, count: int, exclude: Iterable[Problem] = (), seed: int = 0, data_dir: Path | None = None
) -> list[Demonstration]:
    """``count`` demonstrations for ``dataset`` whose prompts differ from every problem in ``exclude``.

    Generated datasets draw them from seed ``seed + DEMO_SEED_OFFSET``; file datasets take rows from the end of
    the file. Raises FewshotError when the dataset cannot supply ``count`` distinct ones."""
    if count <= 0:
        return []
    taken = {problem.prompt for problem in exclude}
    if dataset.startswith(GEN_PREFIX):
        pool = load_dataset(dataset, count * _POOL_FACTOR + len(taken), seed + DEMO_SEED_OFFSET)
    else:
        pool = list(reversed(load_dataset(dataset, data_dir=data_dir)))
    chosen: list[Demonstration] = []
    for problem in pool:
        if problem.prompt in taken:
            continue
        taken.add(problem.prompt)
        chosen.append(Demonstration(problem=problem.prompt, response=worked_response(problem)))
        if len(chosen) == count:
            return chosen
    raise FewshotError(f"{dataset} has only {len(chosen)} problems apart from the evaluated ones, {count} asked")


def read_demonstrations(path: Path) -> list[Demonstration]:
    """Demonstrations from a JSONL file (or one JSON list) of ``{"problem": ..., "response": ...}`` objects;
    a missing file or a bad entry is a ValueError naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"{path}: cannot read ({exc.strerror})") from exc
    stripped = text.strip()
    try:
        entries = (
            json.loads(stripped)
            if stripped.startswith("[")
            else [json.loads(line) for line in text.splitlines() if line.strip()]
        )
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON lines or a JSON list ({exc.msg})") from exc
    demos = []
    for i, entry in enumerate(entries):
        try:
            demos.append(Demonstration.model_validate(entry))
        except ValidationError as exc:
            raise ValueError(f"{path}: entry {i} needs text 'problem' and 'response'") from exc
    return demos
