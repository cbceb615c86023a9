"""Public tests for HumanEval: the worked examples in each prompt's docstring, as a ``check(candidate)`` truth.

Best-of-N may rank code candidates by tests the user could see; the hidden ``check`` of the dataset is never
used for that. Examples come in a few shapes (``>>> f(x)`` then the output line; ``f(x) ==> y``, ``f(x) = y``,
``f(x) # returns y``, ``For x = … the output should be y`` for one-argument functions); an example whose call or
expected value is not a plain Python literal is skipped, and a prompt without usable examples has no public tests.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass

__all__ = ["Example", "docstring_examples", "problem_public_tests", "public_tests"]

_DOCTEST = re.compile(r"^\s*>>>\s*(?P<call>.+?)\s*$")
_INLINE = re.compile(
    r"^\s*(?:[*-]\s*)?(?:for\s+|assert\s+)?(?P<call>\w+\(.*\))\s*"
    r"(?:==>|=>|➞|->|==|=|#\s*=>|#\s*returns?|should return|returns?)\s*(?P<want>.+?)\s*$",
    re.IGNORECASE,
)
_ONE_ARG = re.compile(
    r"^\s*for\s+\w+\s*=\s*(?P<arg>.+?),?\s+the output should be\s+(?P<want>.+?)\.?\s*$", re.IGNORECASE
)
_TRAILING_NOTE = re.compile(r"\s*(?:#.*|\(.*\)\s*)$")
_FUNCTION = re.compile(r"^\s*def\s+(\w+)\s*\(", re.MULTILINE)


@dataclass(frozen=True)
class Example:
    """One worked example: a call expression of the entry point and its expected value (a Python literal)."""

    call: str
    expected: str


def _literal(text: str) -> str | None:
    """The ``repr`` of ``text`` (or of ``text`` without a trailing note) when it is a Python literal, else None."""
    for candidate in (text.strip().rstrip(",;"), _TRAILING_NOTE.sub("", text).strip().rstrip(",;.")):
        try:
            return repr(ast.literal_eval(candidate))
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
    return None


def _call_of(text: str, entry_point: str) -> str | None:
    """``text`` when it is a call of ``entry_point`` whose arguments are all literals, else None."""
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        return None
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == entry_point):
        return None
    try:
        for argument in [*node.args, *(k.value for k in node.keywords)]:
            ast.literal_eval(argument)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    return text.strip()


def docstring_examples(prompt: str, entry_point: str) -> list[Example]:
    """The worked examples of ``entry_point`` found in ``prompt``, in order, without duplicates."""
    lines = prompt.splitlines()
    found: list[Example] = []
    for index, line in enumerate(lines):
        if match := _DOCTEST.match(line):
            call = _call_of(match["call"], entry_point)
            following = next((ln for ln in lines[index + 1 :] if ln.strip()), "")
            want = None if _DOCTEST.match(following) else _literal(following)
        elif match := _INLINE.match(line):
            call, want = _call_of(match["call"], entry_point), _literal(match["want"])
        elif match := _ONE_ARG.match(line):
            argument = _literal(match["arg"])
            call = _call_of(f"{entry_point}({argument})", entry_point) if argument is not None else None
            want = _literal(match["want"])
        else:
            continue
        if call is not None and want is not None and Example(call, want) not in found:
            found.append(Example(call, want))
    return found


def public_tests(prompt: str, entry_point: str) -> str | None:
    """A code-grader truth (``{"test", "entry_point"}`` JSON) asserting every docstring example, or None.

    Values compare as numbers (within 1e-6) or with the expected literal's exact type, so a returned object
    whose ``__eq__`` always answers True passes nothing."""
    examples = docstring_examples(prompt, entry_point)
    if not examples:
        return None
    calls = ["candidate" + ex.call.removeprefix(entry_point) for ex in examples]
    body = "\n".join(f"    assert _same({call}, {ex.expected}), {ex.call!r}" for call, ex in zip(calls, examples))
    test = (
        "def check(candidate):\n"
        "    def _number(x):\n"
        "        return type(x) in (int, float)\n"
        "    def _same(got, want):\n"
        "        if _number(got) and _number(want):\n"
        "            return abs(got - want) <= 1e-6 * max(1.0, abs(want))\n"
        "        return type(got) is type(want) and got == want\n"
        f"{body}\n"
    )
    return json.dumps({"test": test, "entry_point": entry_point})


def problem_public_tests(problem: str) -> str | None:
    """Public tests for a free-form code problem: the docstring examples of the last function it defines."""
    names = _FUNCTION.findall(problem)
    return public_tests(problem, names[-1]) if names else None
