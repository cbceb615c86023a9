"""Ordering puzzles: an independent parser and brute force over all orders find exactly the answer."""

import itertools
import json
import re
from collections.abc import Callable

import pytest

from k2core.data import generate

Pos = dict[str, int]
FORMS: list[tuple[re.Pattern, Callable[[Pos, tuple[str, ...]], bool]]] = [
    (re.compile(r"(\w+) stands somewhere in front of (\w+)\."), lambda p, g: p[g[0]] < p[g[1]]),
    (re.compile(r"(\w+) stands directly in front of (\w+)\."), lambda p, g: p[g[1]] - p[g[0]] == 1),
    (re.compile(r"(\w+) is in position (\d+)\."), lambda p, g: p[g[0]] == int(g[1])),
    (re.compile(r"(\w+) is not in position (\d+)\."), lambda p, g: p[g[0]] != int(g[1])),
    (re.compile(r"(\w+) and (\w+) stand next to each other\."), lambda p, g: abs(p[g[0]] - p[g[1]]) == 1),
    (re.compile(r"(\w+) and (\w+) do not stand next to each other\."), lambda p, g: abs(p[g[0]] - p[g[1]]) != 1),
    (
        re.compile(r"Exactly one person stands between (\w+) and (\w+)\."),
        lambda p, g: abs(p[g[0]] - p[g[1]]) == 2,
    ),
]


def parse(prompt: str) -> tuple[list[str], list]:
    people = re.search(r"one behind another: ([\w, ]+)\.", prompt).group(1).split(", ")
    clues = []
    for sentence in re.findall(r"^- (.*)$", prompt, re.M):
        matches = [(check, m.groups()) for pattern, check in FORMS if (m := pattern.fullmatch(sentence))]
        assert len(matches) == 1, sentence
        clues.append(matches[0])
    return people, clues


def orders(people: list[str], clues: list) -> list[list[str]]:
    found = []
    for order in itertools.permutations(people):
        position = {name: i + 1 for i, name in enumerate(order)}
        if all(check(position, groups) for check, groups in clues):
            found.append(list(order))
    return found


@pytest.mark.parametrize("people", [3, 4, 5, 6])
def test_brute_force_finds_exactly_the_answer(people: int) -> None:
    for problem in generate("ordering", 25, people, {"people": people}):
        names, clues = parse(problem.prompt)
        truth = json.loads(problem.answer)
        assert truth["kind"] == "ordering" and sorted(truth["answer"]) == sorted(names)
        assert orders(names, clues) == [truth["answer"]]


def test_no_clue_is_redundant() -> None:
    for problem in generate("ordering", 20, 1, {"people": 5}):
        names, clues = parse(problem.prompt)
        for i in range(len(clues)):
            assert len(orders(names, clues[:i] + clues[i + 1 :])) > 1


def test_seven_people_is_still_unique() -> None:
    problem = next(generate("ordering", 1, 0, {"people": 7}))
    names, clues = parse(problem.prompt)
    assert orders(names, clues) == [json.loads(problem.answer)["answer"]]
