"""Prompt templates from ``k2core/prompts/*.txt``; ``{{name}}`` placeholders are filled in one pass."""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files

_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


@cache
def load(name: str) -> str:
    """The text of prompt template ``name`` (without ``.txt``)."""
    return files("k2core").joinpath("prompts", f"{name}.txt").read_text(encoding="utf-8")


def render(name: str, **values: str) -> str:
    """Template ``name`` with every ``{{key}}`` replaced; inserted values are never re-scanned."""
    template = load(name)
    missing = set(_PLACEHOLDER.findall(template)) - values.keys()
    if missing:
        raise KeyError(f"template {name!r} needs {', '.join(sorted(missing))}")
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)
