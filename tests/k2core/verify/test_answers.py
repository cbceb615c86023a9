"""One answer extraction: the answer a candidate is grouped by is the one its domain's grader reads."""

import json

import pytest

from k2core import verify

IO_TRUTH = json.dumps({"inputs": ["1 2\n"], "outputs": ["3\n"]})
KNIGHTS = json.dumps({"kind": "knights_knaves", "answer": {"Alice": "knight", "Bob": "knave"}})
ORDER = json.dumps({"kind": "ordering", "answer": ["Carol", "Alice", "Bob"]})
OUTPUT = json.dumps({"kind": "program_output", "output": "1\n2\n"})
COUNTDOWN = json.dumps({"kind": "countdown", "numbers": [2, 3, 5], "target": 16})
TABLE = json.dumps({"kind": "table_qa", "answer": 1234, "tolerance": 0})
PROGRAM = "```python\na, b = map(int, input().split())\nprint(a + b)\n```"

SAMPLES = [
    ("math", "4", "<think>maybe \\boxed{5}</think>So the result is \\boxed{4}."),
    ("math", "4", "Answer: 9\nPut the final answer in \\boxed{ }."),
    ("math", "4", "No idea."),
    ("science", "B", "<think>Answer: A</think>Answer: B"),
    ("science", "B", "None of these."),
    ("code", IO_TRUTH, f"<think>sum</think>{PROGRAM}"),
    ("code", IO_TRUTH, "I cannot write it. \\boxed{3}"),
    ("logic", KNIGHTS, "Alice is a knight and Bob is a knave."),
    ("logic", ORDER, "\\boxed{Carol, Alice, Bob}"),
    ("simulation", OUTPUT, "```output\n1\n2\n```"),
    ("simulation", COUNTDOWN, "\\boxed{(3 + 5) * 2}"),
    ("simulation", OUTPUT, "nothing here"),
    ("tabular", TABLE, "<think>sum the column</think>\\boxed{1,234}"),
    ("tabular", TABLE, "Answer: \\text{1234}"),
]


@pytest.mark.parametrize(("domain", "truth", "response"), SAMPLES)
def test_grouping_answer_is_the_graders(domain: str, truth: str, response: str) -> None:
    assert verify.extract_answer(domain, response) == verify.grade(domain, response, truth).extracted


def test_a_blank_answer_is_none() -> None:
    assert verify.extract_answer("math", "Put the final answer in \\boxed{}.") is None
    assert verify.extract_answer("tabular", "\\boxed{ }") is None


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("<think>maybe \\boxed{5}</think> so \\boxed{\\frac{1}{2}}.", "\\frac{1}{2}"),
        ("work...\nAnswer: 42", "42"),
        ("**Final answer:** Knight", "Knight"),
        ("<think>Answer: 1</think>I am not sure.", None),
        ("Put the final answer in \\boxed{}.", None),
    ],
)
def test_generic_extraction_for_a_domain_without_a_grader(text: str, answer: str | None) -> None:
    assert verify.extract_answer("general", text) == answer
