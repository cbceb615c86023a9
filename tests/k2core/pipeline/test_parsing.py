"""Tolerant JSON parsing of model output."""

import pytest

from k2core.pipeline.parsing import ParseError, parse_json_object


@pytest.mark.parametrize(
    "text",
    [
        '{"winner": "A", "n": 1}',
        'Sure! Here it is:\n```json\n{"winner": "A", "n": 1}\n```\nHope this helps.',
        '{"winner": "A", "n": 1} and that is my verdict {"other": 2}',
        "{'winner': 'A', 'n': 1}",
        '{"winner": "A", "n": 1,}',
        '<think>maybe {"winner": "B"}</think>\n{"winner": "A", "n": 1}',
        "```\n{'winner': 'A', 'n': 1, }\n```",
    ],
)
def test_parses_wrapped_objects(text: str) -> None:
    assert parse_json_object(text) == {"winner": "A", "n": 1}


def test_python_literals_and_json_literals_mix() -> None:
    assert parse_json_object("{'is_hard': true, 'plan': 'x', 'terms': null}") == {
        "is_hard": True,
        "plan": "x",
        "terms": None,
    }


def test_braces_inside_strings_do_not_confuse_the_span() -> None:
    assert parse_json_object("Plan: {'plan': 'use {a} and }b{', 'ok': True} trailing")["plan"] == "use {a} and }b{"


def test_raw_newlines_inside_strings() -> None:
    assert parse_json_object('{"reason": "line one\nline two", }') == {"reason": "line one\nline two"}


@pytest.mark.parametrize(
    ("raw", "plan"),
    [
        (
            r'{"plan": "Put the answer in \boxed{} and use \frac{a}{b}"}',
            r"Put the answer in \boxed{} and use \frac{a}{b}",
        ),
        (
            r'{"plan": "Check $x \neq 0$, then $a \times b$ and \text{m}"}',
            r"Check $x \neq 0$, then $a \times b$ and \text{m}",
        ),
        (r'{"plan": "Take \sqrt{2} \cdot \pi and \underline{x}"}', r"Take \sqrt{2} \cdot \pi and \underline{x}"),
        (r'{"plan": "Escaped right: \\frac{1}{2}, \\\frac{3}{4}"}', r"Escaped right: \frac{1}{2}, \\frac{3}{4}"),
        (r'{"plan": "Step 1\nStep 2\tthen\nuse it\r\n\u00e9"}', "Step 1\nStep 2\tthen\nuse it\r\n\u00e9"),
    ],
)
def test_latex_with_single_backslashes_survives(raw: str, plan: str) -> None:
    """A planner writing LaTeX inside JSON with one backslash keeps its commands: ``\\boxed`` is not a backspace
    and ``oxed`` (a solver copying that plan wrote ``\\x08oxed{36}`` and lost a right answer), while JSON's own
    escapes before ordinary words stay newlines and tabs."""
    assert parse_json_object(raw)["plan"] == plan


def test_skips_non_object_braces_before_the_object() -> None:
    assert parse_json_object('set {1, 2} then {"a": 1}') == {"a": 1}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{ "winner": "A", "confidence": 0.0000000', {"winner": "A", "confidence": 0.0}),
        ('{"winner": "B", "confidence": 0.', {"winner": "B", "confidence": 0}),
        ('{"winner": "A", "reason": "because it', {"winner": "A", "reason": "because it"}),
        ('{"plan": "3", "search_terms": ["apple", "mo', {"plan": "3", "search_terms": ["apple", "mo"]}),
        ('{"a": 1, "b"', {"a": 1}),
        ('{"a": 1, "b": ', {"a": 1}),
        ('{"x": "ab\\', {"x": "ab"}),
        ('{"a": [1, {"b": 2', {"a": [1, {"b": 2}]}),
        ("{'a': 'it", {"a": "it"}),
    ],
)
def test_objects_cut_off_by_the_token_limit_are_closed(text: str, expected: dict) -> None:
    assert parse_json_object(text) == expected


@pytest.mark.parametrize("text", ["", "   ", "no json here", '{"a" 1}', "[1, 2, 3]"])
def test_unparseable_raises_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_json_object(text)
