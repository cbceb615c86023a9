"""Knights and knaves: an independent parser and brute-force solver find exactly the generated answer."""

import itertools
import json
import re
from collections.abc import Callable

import pytest

from k2core.data import generate

Check = Callable[[dict[str, bool], tuple[str, ...]], bool]
K = "knight"

# One regex per sentence form the puzzles use, with its meaning written out independently of the generator.
FORMS: list[tuple[re.Pattern, Check]] = [
    (re.compile(r"(\w+) is a (knight|knave)\."), lambda a, g: a[g[0]] == (g[1] == K)),
    (re.compile(r"(\w+) and (\w+) are both (knight|knave)s\."), lambda a, g: a[g[0]] == a[g[1]] == (g[2] == K)),
    (
        re.compile(r"At least one of (\w+) and (\w+) is a (knight|knave)\."),
        lambda a, g: (g[2] == K) in (a[g[0]], a[g[1]]),
    ),
    (re.compile(r"(\w+) and (\w+) are the same kind\."), lambda a, g: a[g[0]] == a[g[1]]),
    (re.compile(r"(\w+) and (\w+) are different kinds\."), lambda a, g: a[g[0]] != a[g[1]]),
    (
        re.compile(r"If (\w+) is a (knight|knave), then (\w+) is a (knight|knave)\."),
        lambda a, g: not (a[g[0]] == (g[1] == K)) or a[g[2]] == (g[3] == K),
    ),
    (
        re.compile(r"Exactly (\d+) of us (?:is a|are) (knight|knave)s?\."),
        lambda a, g: list(a.values()).count(g[1] == K) == int(g[0]),
    ),
]


def parse(prompt: str) -> tuple[list[str], list[tuple[str, Check, tuple[str, ...]]]]:
    people = re.search(r"You meet \d+ inhabitants: ([\w, ]+)\.", prompt).group(1).split(", ")
    claims = []
    for speaker, sentence in re.findall(r'^(\w+) says: "(.*)"$', prompt, re.M):
        matches = [(check, m.groups()) for pattern, check in FORMS if (m := pattern.fullmatch(sentence))]
        assert len(matches) == 1, sentence
        claims.append((speaker, *matches[0]))
    return people, claims


def solutions(prompt: str) -> list[dict[str, str]]:
    """Every assignment in which knights say only true things and knaves only false ones."""
    people, claims = parse(prompt)
    found = []
    for bits in itertools.product((True, False), repeat=len(people)):
        a = dict(zip(people, bits))
        if all(check(a, groups) == a[speaker] for speaker, check, groups in claims):
            found.append({p: "knight" if a[p] else "knave" for p in people})
    return found


@pytest.mark.parametrize("people", [2, 3, 4, 5, 6, 8])
def test_brute_force_finds_exactly_the_answer(people: int) -> None:
    for problem in generate("knights", 40, people, {"people": people}):
        truth = json.loads(problem.answer)
        assert truth["kind"] == "knights_knaves"
        assert solutions(problem.prompt) == [truth["answer"]]
        assert len(truth["answer"]) == people


def test_every_person_speaks_and_both_roles_occur() -> None:
    roles = set()
    for problem in generate("knights", 60, 9):
        people, claims = parse(problem.prompt)
        assert {speaker for speaker, _, _ in claims} == set(people)
        roles |= set(json.loads(problem.answer)["answer"].values())
    assert roles == {"knight", "knave"}


def test_logic_mix_contains_both_kinds_and_they_are_unique() -> None:
    kinds = set()
    for problem in generate("logic", 40, 5):
        truth = json.loads(problem.answer)
        kinds.add(truth["kind"])
        if truth["kind"] == "knights_knaves":
            assert solutions(problem.prompt) == [truth["answer"]]
    assert kinds == {"knights_knaves", "ordering"}
