"""Code: the last fenced Python block, run only in the sandbox against HumanEval or stdin/stdout tests."""

from __future__ import annotations

import ast
import json
import re
import secrets
from dataclasses import dataclass
from functools import lru_cache

from k2core.verify.base import GroundTruthError, Score, final_segment, no_answer
from k2core.verify.sandbox import ExecResult, Sandbox, default_sandbox

_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)```", re.DOTALL)
_PYTHON_TAGS = {"", "python", "py", "python3"}
_PROMPT_IMPORT = re.compile(r"^(?:from\s+\S+\s+import\s+[^\n]+|import\s+[^\n]+)$", re.MULTILINE)
_CODE_NODES = (
    ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom, ast.Assign,
    ast.AugAssign, ast.For, ast.While, ast.If, ast.With, ast.Try,
)  # fmt: skip
_REPORT = "_k2_report"


@dataclass(frozen=True)
class _UnitTests:
    """HumanEval-style truth: ``check`` rewritten to report each assert-bearing statement separately."""

    test: str
    entry_point: str
    prompt: str
    count: int


@dataclass(frozen=True)
class _IOTests:
    """stdin/stdout truth: one run per input, output compared line by line."""

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


def _looks_like_code(text: str) -> bool:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return any(
        isinstance(node, _CODE_NODES) or (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call))
        for node in tree.body
    )


def _is_test(node: ast.stmt) -> bool:
    """A statement of ``check`` that asserts something (``assert True`` placeholders do not count)."""
    return any(
        isinstance(n, ast.Assert) and not (isinstance(n.test, ast.Constant) and n.test.value is True)
        for n in ast.walk(node)
    )


def _reporting(stmt: ast.stmt, index: int) -> ast.stmt:
    """``try: stmt`` reporting pass/fail of test ``index`` (any exception, SystemExit included, fails it)."""
    report = f"{_REPORT}({index}, {{}})"
    wrapper = ast.parse(
        f"try:\n    pass\nexcept BaseException:\n    {report.format(False)}\nelse:\n    {report.format(True)}"
    )
    wrapper.body[0].body = [stmt]
    return wrapper.body[0]


def _unit_tests(truth: dict) -> _UnitTests:
    test, entry_point = truth.get("test"), truth.get("entry_point")
    if not isinstance(test, str) or not isinstance(entry_point, str) or not entry_point.isidentifier():
        raise GroundTruthError("code ground truth needs a string 'test' and an identifier 'entry_point'")
    try:
        tree = ast.parse(test)
    except SyntaxError as exc:
        raise GroundTruthError(f"code ground truth 'test' does not parse: {exc}") from exc
    checks = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "check"]
    if not checks:
        raise GroundTruthError("code ground truth 'test' defines no check(candidate) function")
    check = checks[-1]
    count = 0
    for i, stmt in enumerate(check.body):
        if _is_test(stmt):
            check.body[i] = _reporting(stmt, count)
            count += 1
    runner = f"check({entry_point})"
    if count == 0:  # no assert to split on: the whole check is one test
        tree.body.append(_reporting(ast.parse(runner).body[0], 0))
        count = 1
    else:
        tree.body.append(ast.parse(runner).body[0])
    prompt = truth.get("prompt", "")
    return _UnitTests(ast.unparse(tree), entry_point, prompt if isinstance(prompt, str) else "", count)


def _io_tests(truth: dict) -> _IOTests:
    inputs, outputs = truth.get("inputs"), truth.get("outputs")
    valid = (
        isinstance(inputs, list)
        and isinstance(outputs, list)
        and len(inputs) == len(outputs) > 0
        and all(isinstance(x, str) for x in inputs + outputs)
    )
    if not valid:
        raise GroundTruthError("code ground truth 'inputs'/'outputs' must be equal-length non-empty string lists")
    return _IOTests(tuple(inputs), tuple(outputs))


@lru_cache(maxsize=1024)
def _parse_truth(ground_truth: str) -> _UnitTests | _IOTests:
    try:
        truth = json.loads(ground_truth)
    except json.JSONDecodeError as exc:
        raise GroundTruthError(f"code ground truth is not JSON: {exc}") from exc
    if isinstance(truth, dict) and "test" in truth:
        return _unit_tests(truth)
    if isinstance(truth, dict) and "inputs" in truth:
        return _io_tests(truth)
    raise GroundTruthError("code ground truth must hold 'test'+'entry_point' or 'inputs'+'outputs'")


def _normalise_output(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def _normalise_program(program: str) -> str:
    try:
        return ast.unparse(ast.parse(program))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return "\n".join(line.rstrip() for line in program.strip().splitlines() if line.strip())


def _failure(result: ExecResult) -> str:
    """Why a run failed, in a few words: the kill reason or the last line of stderr."""
    if result.killed_reason:
        return result.killed_reason
    lines = result.stderr.strip().splitlines()
    return lines[-1][:200] if lines else f"exit status {result.returncode}"


def _score(program: str, passed: int, total: int, detail: str) -> Score:
    reason = f"{passed}/{total} tests passed" + (f" ({detail})" if detail and passed < total else "")
    return Score(round(passed / total, 6), passed == total, program, reason)


class CodeGrader:
    """Grades Python programs by running them in the sandbox; score is the fraction of tests passed."""

    domain = "code"

    def __init__(self, sandbox: Sandbox | None = None) -> None:
        self._sandbox = sandbox

    @property
    def sandbox(self) -> Sandbox:
        return self._sandbox or default_sandbox()

    def extract(self, response: str) -> str | None:
        segment = final_segment(response)
        blocks = [body for tag, body in _FENCE.findall(segment) if tag.lower() in _PYTHON_TAGS]
        if blocks:
            return blocks[-1].strip("\n") or None
        return segment.strip() if _looks_like_code(segment) else None

    def grade(self, response: str, ground_truth: str) -> Score:
        truth = _parse_truth(ground_truth)
        program = self.extract(response)
        if program is None:
            return no_answer("no fenced python block in the final answer")
        if isinstance(truth, _UnitTests):
            return self._run_unit_tests(program, truth)
        return self._run_io_tests(program, truth)

    def same_answer(self, a: str, b: str) -> bool:
        return _normalise_program(a) == _normalise_program(b)

    def _run_unit_tests(self, program: str, truth: _UnitTests) -> Score:
        if re.search(rf"^\s*(?:async\s+)?def\s+{truth.entry_point}\s*\(", program, re.MULTILINE):
            source = "\n".join([*_PROMPT_IMPORT.findall(truth.prompt), program])
        else:  # a completion of the prompt's function body
            source = truth.prompt + program
        nonce = secrets.token_hex(12)
        reporter = (
            f"def {_REPORT}(index, passed, _write=__import__('os').write):\n"
            f"    _write(1, ('\\n{nonce} %d %d\\n' % (index, passed)).encode())\n"
        )
        result = self.sandbox.run_sync("\n\n".join([source, reporter, truth.test]))
        reports = {int(i): ok == "1" for i, ok in re.findall(rf"{nonce} (\d+) ([01])", result.stdout)}
        return _score(program, sum(reports.values()), truth.count, "" if result.ok else _failure(result))

    def _run_io_tests(self, program: str, truth: _IOTests) -> Score:
        results = self.sandbox.run_each_sync(program, truth.inputs)
        passed = [
            r.ok and _normalise_output(r.stdout) == _normalise_output(o)
            for r, o in zip(results, truth.outputs, strict=True)
        ]
        first = next((r for r, ok in zip(results, passed, strict=True) if not ok), None)
        detail = "" if first is None else (_failure(first) if not first.ok else "wrong output")
        return _score(program, sum(passed), len(passed), detail)


GRADER = CodeGrader()
