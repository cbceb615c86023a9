"""Official CRD schemas (tests/fixtures/crds, copied from upstream; see its README), made strict so typos in our
manifests fail validation."""

from __future__ import annotations

import gzip
from functools import cache
from pathlib import Path
from typing import Any

import yaml

CRD_DIR = Path(__file__).resolve().parent / "fixtures" / "crds"


@cache
def load_crd(name: str) -> dict[str, Any]:
    """One CustomResourceDefinition by file stem, e.g. ``ray.io_rayjobs``."""
    with gzip.open(CRD_DIR / f"{name}.yaml.gz", "rt", encoding="utf-8") as text:
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def crd_names() -> list[str]:
    """Every CRD fixture's file stem."""
    return sorted(path.name.removesuffix(".yaml.gz") for path in CRD_DIR.glob("*.yaml.gz"))


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
