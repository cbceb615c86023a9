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


def test_skips_non_object_braces_before_the_object() -> None:
    assert parse_json_object('set {1, 2} then {"a": 1}') == {"a": 1}


@pytest.mark.parametrize("text", ["", "   ", "no json here", '{"unterminated": ', "[1, 2, 3]"])
def test_unparseable_raises_parse_error(text: str) -> None:
    with pytest.raises(ParseError):
        parse_json_object(text)
