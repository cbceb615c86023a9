"""HumanEval public tests from docstring examples: shapes parsed, hidden tests never used, canonical solutions pass."""

from __future__ import annotations

import json

import pytest

from k2core.data import load_dataset
from k2core.data.public_tests import Example, docstring_examples, public_tests
from k2core.verify import get_grader

PROMPT = '''def add(a, b):
    """Add.
    >>> add(1, 2)
    3
    >>> add(1.5, 1)
    2.5
    add(2, 2) ==> 4
    * add(0, 0) => 0
    for add(3, 4) == 7
    add(5, 5)   # returns 10
    >>> add(x, 1)
    9
    """
'''


def test_every_shape_is_parsed_and_non_literals_are_skipped() -> None:
    assert docstring_examples(PROMPT, "add") == [
        Example("add(1, 2)", "3"),
        Example("add(1.5, 1)", "2.5"),
        Example("add(2, 2)", "4"),
        Example("add(0, 0)", "0"),
        Example("add(3, 4)", "7"),
        Example("add(5, 5)", "10"),
    ]


def test_one_argument_for_the_output_should_be_form() -> None:
    prompt = 'def f(lst):\n    """\n    For lst = [1,2,3] the output should be 14\n    """\n'
    assert docstring_examples(prompt, "f") == [Example("f([1, 2, 3])", "14")]


def test_trailing_comments_are_not_part_of_the_value() -> None:
    prompt = 'def g(n):\n    """\n    g(5) returns [1, 5] # the odd ones.\n    """\n'
    assert docstring_examples(prompt, "g") == [Example("g(5)", "[1, 5]")]


def test_no_examples_no_public_tests() -> None:
    assert public_tests('def h():\n    """Nothing to see."""\n', "h") is None


def test_humaneval_public_tests_come_from_the_prompt_only() -> None:
    problems = load_dataset("humaneval")
    with_tests = [p for p in problems if "public_tests" in p.meta]
    assert len(with_tests) >= 130
    for problem in with_tests:
        truth = json.loads(problem.meta["public_tests"])
        hidden = json.loads(problem.answer)
        assert truth["entry_point"] == hidden["entry_point"]
        assert truth["test"] != hidden["test"] and "METADATA" not in truth["test"]


@pytest.mark.slow
def test_canonical_solutions_pass_their_public_tests_but_three_docstring_mistakes() -> None:
    grader = get_grader("code")
    failing = []
    for problem in load_dataset("humaneval"):
        if "public_tests" not in problem.meta:
            continue
        hidden = json.loads(problem.answer)
        code = f"```python\n{hidden['prompt']}{problem.meta['canonical_solution']}\n```"
        if not grader.grade(code, problem.meta["public_tests"]).correct:
            failing.append(problem.meta["task_id"])
    # Their docstrings are wrong: median's 15.0 (it is 8.0), tri(1) = 3 in the definition, ("Venus") is a string.
    assert failing == ["HumanEval/47", "HumanEval/130", "HumanEval/148"]


def test_an_always_equal_object_passes_nothing() -> None:
    grader = get_grader("code")
    truth = public_tests(PROMPT, "add")
    cheat = "```python\nclass Yes:\n    def __eq__(self, other):\n        return True\ndef add(a, b):\n    return Yes()\n```"
    assert grader.grade(cheat, truth).score == 0.0
    honest = "```python\ndef add(a, b):\n    return a + b\n```"
    assert grader.grade(honest, truth).correct


def test_a_free_form_code_problem_gets_its_docstring_examples_as_public_tests() -> None:
    from k2core.data.public_tests import problem_public_tests
    from k2core.pipeline.request import SolveRequest

    problem = 'Write it.\n\ndef helper(x):\n    pass\n\ndef twice(x):\n    """\n    >>> twice(2)\n    4\n    """\n'
    truth = json.loads(problem_public_tests(problem))
    assert truth["entry_point"] == "twice" and "_same(candidate(2), 4)" in truth["test"]
    coded = SolveRequest(problem=problem, domain="code").with_docstring_tests()
    assert coded.public_tests is not None and json.loads(coded.public_tests) == truth
    assert SolveRequest(problem=problem, domain="math").with_docstring_tests().public_tests is None
    own = '{"test": "def check(candidate):\\n    assert candidate(1) == 2\\n", "entry_point": "twice"}'
    assert SolveRequest(problem=problem, domain="code", public_tests=own).with_docstring_tests().public_tests == own
