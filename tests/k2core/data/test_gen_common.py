"""Properties every generator shares: seeded determinism, stable ids, domains, knob checking."""

import json

import pytest

from k2core.data import generate, generator, load_dataset
from k2core.data.generators import GENERATORS, build_config
from k2core.data.generators.arith import ArithConfig
from k2core.data.generators.tabular import TabularConfig

NAMES = sorted(GENERATORS)
DOMAINS = {
    "arith": "math",
    "logic": "logic",
    "knights": "logic",
    "ordering": "logic",
    "countdown": "simulation",
    "simulation": "simulation",
    "tabular": "tabular",
}


def dicts(name: str, count: int, seed: int) -> list[dict]:
    return [p.to_dict() for p in generate(name, count, seed)]


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_problems(name: str) -> None:
    assert dicts(name, 12, 7) == dicts(name, 12, 7)
    assert load_dataset(f"gen:{name}", limit=12, seed=7) == list(generate(name, 12, 7))


@pytest.mark.parametrize("name", NAMES)
def test_different_seed_different_problems(name: str) -> None:
    first, second = dicts(name, 12, 0), dicts(name, 12, 1)
    assert [p["prompt"] for p in first] != [p["prompt"] for p in second]
    assert len({p["prompt"] for p in first + second}) >= 12


@pytest.mark.parametrize("name", NAMES)
def test_problem_i_does_not_depend_on_count(name: str) -> None:
    assert dicts(name, 5, 3) == dicts(name, 10, 3)[:5]


@pytest.mark.parametrize("name", NAMES)
def test_ids_domains_and_meta(name: str) -> None:
    problems = list(generate(f"gen:{name}", 20, 4))
    assert len({p.id for p in problems}) == 20
    for index, problem in enumerate(problems):
        assert problem.domain == DOMAINS[name] == GENERATORS[name].domain
        assert problem.prompt.strip() and problem.answer.strip()
        assert problem.meta["generator"] == f"gen:{name}"
        assert (problem.meta["seed"], problem.meta["index"]) == (4, index)
        if problem.domain != "math":
            assert json.loads(problem.answer)["kind"] == problem.meta["kind"]


def test_default_count_for_generated_datasets() -> None:
    assert len(load_dataset("gen:arith")) == 100


def test_knobs_change_problems_and_text_knobs_are_parsed() -> None:
    assert build_config(ArithConfig, {"digits": "3", "ops": "*", "allow_negative": "true"}) == ArithConfig(
        operands=2, digits=3, ops="*", allow_negative=True
    )
    assert build_config(TabularConfig, {"questions": "sum, max"}).questions == ("sum", "max")
    easy = [p.prompt for p in generate("arith", 5, 0)]
    hard = [p.prompt for p in generate("arith", 5, 0, {"digits": 3, "operands": 4})]
    assert easy != hard


@pytest.mark.parametrize(
    ("name", "knobs", "message"),
    [
        ("arith", {"colour": "red"}, "unknown knob 'colour'"),
        ("arith", {"digits": "many"}, "knob 'digits'"),
        ("arith", {"ops": "^"}, "knob 'ops'"),
        ("knights", {"people": 1}, "knob 'people'"),
        ("ordering", {"people": 9}, "knob 'people'"),
        ("logic", {"kinds": "sudoku"}, "knob 'kinds'"),
        ("tabular", {"questions": "median"}, "knob 'questions'"),
        ("tabular", {"rows": 10, "max_value": 5}, "knob 'max_value'"),
        ("countdown", {"numbers": 2, "max_number": 2}, "knob 'min_target'"),
        ("simulation", {"blocks": 0}, "knob 'blocks'"),
    ],
)
def test_bad_knobs_are_named(name: str, knobs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate(name, 1, 0, knobs)


def test_generator_accepts_bare_and_prefixed_names() -> None:
    assert generator("arith") is generator("gen:arith")
    with pytest.raises(ValueError, match="'gen:zebra'"):
        generator("gen:zebra")
