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
