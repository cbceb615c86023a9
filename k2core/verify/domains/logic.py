"""Logic grader: knights-and-knaves roles and ordering puzzles from ``gen:logic`` (exact structured match).

Ground truth is JSON with a ``kind``: ``{"kind": "knights_knaves", "answer": {"Alice": "knight", ...}}`` or
``{"kind": "ordering", "answer": ["front", ..., "back"]}``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from k2core.verify.base import GroundTruthError, Score, final_segment, no_answer, normalise_text
from k2core.verify.spans import answer_span, answer_text, clean, last_line, parse_truth

DOMAIN = "logic"
_MAX_FREE_TEXT_CHARS = 4_000  # free-text role mentions are searched in the last part only

_NAME = r"[A-Z][a-z]+"
_ROLE = r"(?i:(knight|knave|liar|truth-?teller))s?\b"
_SINGLE = re.compile(rf"\b({_NAME})[\s:=(\-–—]{{0,4}}(?:(?:is|was|are|must be)\s+)?(?:(?:a|an)\s+)?{_ROLE}")
_GROUP = re.compile(rf"\b({_NAME}(?:(?:\s*,\s*|\s+)(?:and\s+)?{_NAME})+)\s+(?:are|were)\s+(?:both\s+|all\s+)?{_ROLE}")
_HEADED = re.compile(rf"\b{_ROLE}\s*[:=]\s*({_NAME}(?:\s*(?:,|and)\s*{_NAME})*)")
_STOP = {"and", "the", "so", "if", "then", "thus", "therefore", "each", "every", "everyone", "i", "position"}


def _role(word: str) -> str:
    return "knight" if word.lower().startswith(("knight", "truth")) else "knave"


def roles_in(text: str) -> dict[str, str]:
    """Every "Name ... knight/knave" mention in reading order (later mentions win), as {name: role}."""
    text = text[-_MAX_FREE_TEXT_CHARS:]
    found: list[tuple[int, str, str]] = []
    for match in _SINGLE.finditer(text):
        found.append((match.start(), match.group(1), _role(match.group(2))))
    for match in _GROUP.finditer(text):
        found += [(match.start(), n, _role(match.group(2))) for n in re.findall(_NAME, match.group(1))]
    for match in _HEADED.finditer(text):
        found += [(match.start(), n, _role(match.group(1))) for n in re.findall(_NAME, match.group(2))]
    return {name: role for _, name, role in sorted(found) if name.lower() not in _STOP}


def order_in(text: str) -> list[str]:
    """Names listed in order ("A, B, C", "A > B > C", "1. A 2. B", one per line)."""
    parts = re.split(r"\s*(?:,|;|>|<|→|->|\n|\bthen\b|\d+[.)]|\band\b)\s*", text)
    names = []
    for part in parts:
        words = [w for w in re.findall(_NAME, part) if w.lower() not in _STOP | {"front", "back", "first", "last"}]
        if words:
            names.append(words[0])
    return names


def _structured(span: str) -> Any:
    try:
        return json.loads(span)
    except ValueError:
        return None


def _roles(response: str) -> dict[str, str]:
    span = answer_text(response)
    data = _structured(span) if span else None
    if isinstance(data, dict):
        return {str(k): _role(str(v)) for k, v in data.items() if re.search(_ROLE, str(v))}
    return roles_in(span or "") or roles_in(final_segment(response))


def _order(response: str) -> list[str]:
    span = clean(answer_span(response) or last_line(response) or "")
    data = _structured(span)
    if isinstance(data, list):
        return [str(x).strip() for x in data]
    return order_in(span)


class LogicGrader:
    """Knights-and-knaves: every person's role must match. Ordering: the whole order must match."""

    domain = DOMAIN

    def extract(self, response: str) -> str | None:
        found: dict[str, str] | list[str] = _roles(response) or _order(response)
        return json.dumps(found) if found else None

    def grade(self, response: str, ground_truth: str) -> Score:
        truth = parse_truth(ground_truth, ("knights_knaves", "ordering"))
        answer = truth.get("answer")
        if truth["kind"] == "knights_knaves":
            if not isinstance(answer, dict) or not answer:
                raise GroundTruthError(f"knights_knaves answer must be a non-empty object: {ground_truth[:80]!r}")
            return _grade_roles(_roles(response), answer)
        if not isinstance(answer, list) or not answer:
            raise GroundTruthError(f"ordering answer must be a non-empty list: {ground_truth[:80]!r}")
        return _grade_order(_order(response), answer)

    def same_answer(self, a: str, b: str) -> bool:
        left, right = _structured(a), _structured(b)
        if isinstance(left, dict) and isinstance(right, dict):
            return _lower(left) == _lower(right)
        if isinstance(left, list) and isinstance(right, list):
            return [str(x).lower() for x in left] == [str(x).lower() for x in right]
        return normalise_text(a) == normalise_text(b)


def _lower(mapping: dict) -> dict[str, str]:
    return {str(k).lower(): str(v).lower() for k, v in mapping.items()}


def _grade_roles(found: dict[str, str], answer: dict[str, str]) -> Score:
    if not found:
        return no_answer("no knight/knave roles found")
    extracted, got = json.dumps(found), _lower(found)
    for name, role in answer.items():
        if got.get(name.lower()) != role.lower():
            why = "missing" if name.lower() not in got else "wrong"
            return Score(0.0, False, extracted, f"{why} role for {name}")
    return Score(1.0, True, extracted, f"all {len(answer)} roles match")


def _grade_order(found: list[str], answer: list[str]) -> Score:
    if not found:
        return no_answer("no order found")
    extracted = json.dumps(found)
    if [n.lower() for n in found] == [str(n).lower() for n in answer]:
        return Score(1.0, True, extracted, "order matches")
    return Score(0.0, False, extracted, f"order differs: expected {len(answer)} names in the given order")


GRADER = LogicGrader()
