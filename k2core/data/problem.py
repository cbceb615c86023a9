"""The one shape every dataset maps to: a Problem with its prompt and ground-truth answer."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

_FIELDS = ("id", "domain", "prompt", "answer")


@dataclass(frozen=True)
class Problem:
    """One task: the user prompt, the domain whose grader checks it, and the ground truth as text."""

    id: str
    domain: str
    prompt: str
    answer: str
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "domain": self.domain, "prompt": self.prompt, "answer": self.answer, "meta": self.meta}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Problem:
        """Build a Problem from ``to_dict`` output; a missing or non-text field is a ValueError naming it."""
        for name in _FIELDS:
            if not isinstance(data.get(name), str):
                raise ValueError(f"problem {data.get('id', '?')!r}: field {name!r} must be a string")
        meta = data.get("meta") or {}
        if not isinstance(meta, dict):
            raise ValueError(f"problem {data['id']!r}: field 'meta' must be an object")
        return cls(data["id"], data["domain"], data["prompt"], data["answer"], meta)


def canonical_json(obj: Any) -> str:
    """The canonical text of a structured ground truth: sorted keys, stable separators."""
    return json.dumps(obj, sort_keys=True, ensure_ascii=False)
