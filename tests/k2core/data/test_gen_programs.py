"""Program-output tasks: the expected output equals what a separate Python process prints."""

import json
import random
import re
import subprocess
import sys

import pytest

from k2core.data import generate
from k2core.data.generators.programs import TEMPLATES


def printed_by_python(program: str) -> str:
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=20, check=True)
    return result.stdout


@pytest.mark.parametrize("knobs", [{}, {"blocks": 1}, {"blocks": 4, "max_value": 60}])
def test_expected_output_matches_a_real_interpreter(knobs: dict) -> None:
    for problem in generate("simulation", 15, 5, knobs):
        program = re.search(r"```python\n(.*?)```", problem.prompt, re.S).group(1)
        assert program == problem.meta["program"]
        truth = json.loads(problem.answer)
        assert truth == {"kind": "program_output", "output": printed_by_python(program).rstrip("\n")}
        assert truth["output"].strip()


def test_every_template_is_used() -> None:
    programs = "\n".join(p.meta["program"] for p in generate("simulation", 60, 0, {"blocks": 3}))
    for template in TEMPLATES:
        first_line = template(random.Random(0), 20).split("\n", 1)[0]
        marker = first_line.split("=", 1)[0] if "=" in first_line else first_line
        assert re.search(rf"^{re.escape(marker)}", programs, re.M), template.__name__


def test_grader_accepts_the_output() -> None:
    from k2core.verify.domains.simulation import GRADER

    for problem in generate("simulation", 10, 1):
        output = json.loads(problem.answer)["output"]
        assert GRADER.grade(f"The program prints:\n```output\n{output}\n```", problem.answer).correct
        assert not GRADER.grade(f"```output\n{output}!\n```", problem.answer).correct
