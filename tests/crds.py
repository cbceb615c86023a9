"""Official CRD schemas from ../shared/schemas/crds, made strict so typos in our manifests fail validation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

CRD_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "schemas" / "crds"


def strict_schema(schema: Any) -> Any:
    """The schema with unknown fields rejected: the API server would silently prune them."""
    if isinstance(schema, list):
        return [strict_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    strict = {k: strict_schema(v) for k, v in schema.items()}
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        strict["additionalProperties"] = False
    return strict
