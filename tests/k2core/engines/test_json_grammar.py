"""JSON-schema grammars keep strings JSON: no raw control characters (llama-cpp-python's converter lets them in)."""

from __future__ import annotations

import re

from k2core.engines.json_grammar import JSON_CHAR_RULE, json_schema_grammar

PLAN = {
    "type": "object",
    "properties": {"plan": {"type": "string"}, "steps": {"type": "array", "items": {"type": "string"}}},
    "required": ["plan", "steps"],
}


def char_rules(grammar: str) -> list[str]:
    return re.findall(r"^char ::= .*$", grammar, re.MULTILINE)


def test_string_characters_exclude_control_characters() -> None:
    assert char_rules(json_schema_grammar(PLAN)) == [JSON_CHAR_RULE]
    assert r"\x00-\x1F" in JSON_CHAR_RULE and r"\x7F" in JSON_CHAR_RULE


def test_the_rest_of_the_converters_grammar_is_kept() -> None:
    grammar = json_schema_grammar(PLAN)
    assert re.search(r"^root ::= ", grammar, re.MULTILINE)
    assert '"\\"plan\\""' in grammar and '"\\"steps\\""' in grammar


def test_a_schema_without_strings_is_unchanged() -> None:
    grammar = json_schema_grammar({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]})
    assert char_rules(grammar) == [] and "integer" in grammar
