"""GBNF grammars for JSON schemas whose output is always valid JSON.

llama-cpp-python 0.3.36 converts a schema with a string character rule of ``[^"\\]``: it lets raw control
characters (a newline, a tab) into strings, which JSON forbids (``json.loads`` rejects them; vLLM's xgrammar and
llama.cpp's own converter never emit them). The converter's output is kept, with its ``char`` rule replaced by the
JSON one: any character but a quote, a backslash, DEL or a control character, or an escape.
"""

from __future__ import annotations

import json
import re
from typing import Any

from llama_cpp.llama_grammar import json_schema_to_gbnf

_HEX = " ".join(["[0-9a-fA-F]"] * 4)
JSON_CHAR_RULE = r'char ::= [^"\\\x7F\x00-\x1F] | "\\" (["\\/bfnrt] | "u" ' + _HEX + ")"
_CHAR_LINE = re.compile(r"^char ::= .*$", re.MULTILINE)


def json_schema_grammar(schema: dict[str, Any]) -> str:
    """The GBNF text for ``schema``, strings restricted to what JSON allows."""
    return _CHAR_LINE.sub(lambda _: JSON_CHAR_RULE, json_schema_to_gbnf(json.dumps(schema)))
