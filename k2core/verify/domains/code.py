"""Code: the last fenced Python block, run only in the sandbox against HumanEval or stdin/stdout tests.

Threat model: the program is written by the model being rewarded and may attack the grader from inside
its own process (patch the reporter, ``os.write``, ``AssertionError`` or builtins, exit early, print fake
markers, read or rewrite the test file, spawn threads, install atexit/signal hooks, kill its parent).
So no verdict is produced where it runs. For HumanEval truth the candidate's program and the tests run in
two separate sandboxes joined by one socket (``harness.py``): the judge sandbox holds the tests and calls
the candidate's functions remotely; arguments and results cross as plain data decoded into exact builtin
types, so ``assert f(x) == y`` compares values the judge built itself (a returned object whose ``__eq__``
always answers True never reaches it; a builtin subclass is graded on its builtin value, stricter than
HumanEval's own ``check``). The candidate never sees the tests, the judge's process or its output; the
judge reports each assert-bearing statement of ``check`` once on its own stdout. For stdin/stdout truth
the expected outputs never enter the sandbox and the comparison happens here. Indices outside the test
count are ignored, each test counts once and every score is clamped to [0, 1]. The separation holds at
every isolation level that gives the two sandboxes their own uid or root (bwrap, unshare/setpriv as root);
at "userns" and "rlimits-only" both run as the caller and could reach each other's files. Helpers the
prompt implements (``poly``) are ground truth: the judge defines them itself.
"""

from __future__ import annotations

import ast
import builtins
import json
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from k2core.verify.base import GroundTruthError, Score, final_segment, no_answer
from k2core.verify.sandbox import ExecResult, Program, Sandbox, default_sandbox

_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)```", re.DOTALL)
_PYTHON_TAGS = {"", "python", "py", "python3"}
_PROMPT_IMPORT = re.compile(r"^(?:from\s+\S+\s+import\s+[^\n]+|import\s+[^\n]+)$", re.MULTILINE)
_CODE_NODES = (
    ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom, ast.Assign,
    ast.AugAssign, ast.For, ast.While, ast.If, ast.With, ast.Try,
)  # fmt: skip
_REPORT = "_k2_report"
_VERDICT = re.compile(r"(\d{1,9}) ([01])")


@dataclass(frozen=True)
class _UnitTests:
    """HumanEval-style truth: ``check`` rewritten to report each assert-bearing statement separately."""

    test: str
    entry_point: str
    prompt: str
    prelude: str
    count: int
    remote: tuple[str, ...]


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
    guard = wrapper.body[0]
    assert isinstance(guard, ast.Try)
    guard.body = [stmt]
    return guard


def _free_names(tree: ast.Module) -> tuple[str, ...]:
    """Names the tests read but never bind (the entry point, prompt helpers): the candidate's functions."""
    nodes = list(ast.walk(tree))
    bound = {n.id for n in nodes if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    bound |= {n.name for n in nodes if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    bound |= {n.arg for n in nodes if isinstance(n, ast.arg)}
    bound |= {n.name for n in nodes if isinstance(n, ast.ExceptHandler) and n.name}
    imports = [a for n in nodes if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names]
    bound |= {(a.asname or a.name).split(".")[0] for a in imports}
    read = {n.id for n in nodes if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return tuple(sorted(read - bound - set(dir(builtins)) - {_REPORT}))


def _prompt_helpers(prompt: str, entry_point: str) -> list[ast.stmt]:
    """The prompt's imports and implemented helpers (``poly``, ``encode_cyclic``): ground truth, so the judge
    defines them itself and a candidate that redefines them cannot bend the tests."""
    try:
        body = ast.parse(prompt).body
    except (SyntaxError, ValueError, RecursionError):  # a completion prompt: its import lines only
        body = [stmt for line in _PROMPT_IMPORT.findall(prompt) for stmt in _statements(line)]
    return [
        node
        for node in body
        if isinstance(node, (ast.Import, ast.ImportFrom))
        or (isinstance(node, ast.FunctionDef) and node.name != entry_point and _implemented(node))
    ]


def _statements(source: str) -> list[ast.stmt]:
    try:
        return ast.parse(source).body
    except (SyntaxError, ValueError, RecursionError):
        return []


def _implemented(function: ast.FunctionDef) -> bool:
    """Whether a function has a body beyond a docstring, ``pass`` or ``...`` (a stub is the candidate's job)."""
    return any(
        not isinstance(stmt, ast.Pass) and not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant))
        for stmt in function.body
    )


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
    prompt = prompt if isinstance(prompt, str) else ""
    helpers = _prompt_helpers(prompt, entry_point)
    tree.body[:0] = helpers
    prelude = ast.unparse(ast.Module(body=helpers, type_ignores=[]))
    return _UnitTests(ast.unparse(tree), entry_point, prompt, prelude, count, _free_names(tree))


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
    return _IOTests(tuple(inputs or ()), tuple(outputs or ()))


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
    """The fraction passed, clamped to [0, 1]; correct only when every test passed."""
    reason = f"{passed}/{total} tests passed" + (f" ({detail})" if detail and passed < total else "")
    fraction = min(1.0, max(0.0, passed / total)) if total > 0 else 0.0
    return Score(round(fraction, 6), total > 0 and passed == total, program, reason)


def _verdicts(stdout: str, count: int) -> dict[int, bool]:
    """The judge's per-test verdicts: indices below ``count`` only, the first verdict of each index wins."""
    verdicts: dict[int, bool] = {}
    for line in stdout.splitlines():
        match = _VERDICT.fullmatch(line)
        if match and int(match[1]) < count:
            verdicts.setdefault(int(match[1]), match[2] == "1")
    return verdicts


@cache
def _harness() -> str:
    return (Path(__file__).resolve().parent.parent / "harness.py").read_text(encoding="utf-8")


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
            source = f"{truth.prelude}\n\n{program}"  # its own definitions come last and win
        else:  # a completion of the prompt's function body
            source = truth.prompt + program
        judge = Program(
            {"main.py": _harness(), "tests.py": truth.test, "remote.json": json.dumps(truth.remote)}, ("judge",)
        )
        candidate = Program({"main.py": _harness(), "candidate.py": source}, ("serve",))
        verdicts, served = self.sandbox.run_linked_sync(judge, candidate)
        passed = sum(_verdicts(verdicts.stdout, truth.count).values())
        failure = next((_failure(r) for r in (served, verdicts) if not r.ok and r.killed_reason != "peer exited"), "")
        return _score(program, passed, truth.count, failure)

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
