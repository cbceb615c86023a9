"""The settings tables of the README and the chart's README, rendered from the field descriptions of one tree.

``python -m services.settings_docs`` (``make docs``) rewrites the part of each file between its marker comments;
``--check`` only reports which is stale (a test does the same). The README gets every ``K2_...`` env var of
``ServiceSettings``; the chart's README gets the values that reach a pod as one of them (pipeline, limits, each
role's engine, server), each with the setting's description.
"""

from __future__ import annotations

import argparse
import enum
import json
import re
import sys
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from services.settings import ServiceSettings

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
CHART = REPO / "charts" / "k2think"
CHART_README = CHART / "README.md"
BEGIN, END = "<!-- settings-table:begin (make docs) -->", "<!-- settings-table:end -->"
ROLES = ("planner", "solver", "judge")
ROLE = "<ROLE>"

# Values the chart copies key by key (camelCase -> snake_case) into a settings section, and the value keys it
# keeps for itself (secrets are mounted as files; their paths are set by the chart).
PASSTHROUGH = {"pipeline": "pipeline", "limits": "limits"}
ROLE_PASSTHROUGH = ("vllm", "embedded", "cerebras")
CHART_OWN = {"existingSecret", "secretKey"}
# Values the chart turns into one setting each.
DIRECT = {
    "server.gracePeriodS": "server.grace_period_s",
    "server.healthPort": "server.health_port",
    "telemetry.otlpEndpoint": "server.otlp_endpoint",
    f"{ROLE}.backend": f"{ROLE}.engine",
    f"{ROLE}.model": f"{ROLE}.model",
    f"{ROLE}.pricePerMillionPrompt": f"{ROLE}.price_per_million_prompt",
    f"{ROLE}.pricePerMillionCompletion": f"{ROLE}.price_per_million_completion",
    f"{ROLE}.openai.baseUrl": f"{ROLE}.base_url",
}


@dataclass(frozen=True)
class Setting:
    """One leaf of the tree: its dotted path, env var, type, default and description."""

    path: str
    env: str
    type: str
    default: str
    description: str


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _type_name(annotation: Any) -> str:
    """A short type: ``int``, ``float or none``, ``q4_k_m, q4_0, q8_0``, ``list[str]``, ``JSON object``."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return ", ".join(str(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        kept = [a for a in args if a is not type(None)]
        name = " or ".join(_type_name(a) for a in kept)
        return f"{name} or none" if len(kept) < len(args) else name
    if origin is dict:
        return "JSON object"
    if origin is list:
        return f"JSON list of {_type_name(args[0])}"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return ", ".join(str(m.value) for m in annotation)
    return getattr(annotation, "__name__", str(annotation))


def _show(value: Any) -> str:
    """A default as written in env: ``true``, ``1024``, ``none``, ``["127.0.0.1:50053"]``."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def _default(field: FieldInfo) -> str:
    """The field's default; one a factory computes from the machine (cache dir, CPU count) reads ``computed``."""
    if field.default is not PydanticUndefined:
        return _show(field.default)
    made = field.default_factory() if field.default_factory is not None else None  # type: ignore[call-arg]
    return _show(made) if isinstance(made, (list, dict)) else "computed"


def _section(annotation: Any) -> type[BaseModel] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def walk(model: type[BaseModel] = ServiceSettings, prefix: str = "") -> Iterator[Setting]:
    """Every leaf under ``model``, in field order; the engine roles' identical sections are one ``<ROLE>`` entry."""
    seen_roles = False
    for name, field in model.model_fields.items():
        section = _section(field.annotation)
        if model is ServiceSettings and name in ROLES:
            if seen_roles:
                continue
            seen_roles, name = True, ROLE
        path = f"{prefix}{name}"
        if section is not None:
            yield from walk(section, f"{path}.")
            continue
        env = "K2_" + "__".join(part if part == ROLE else part.upper() for part in path.split("."))
        yield Setting(path, env, _type_name(field.annotation), _default(field), field.description or "")


def by_path() -> dict[str, Setting]:
    """Every setting by its dotted path (``<ROLE>.vllm.max_model_len``)."""
    return {s.path: s for s in walk()}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def readme_table() -> str:
    """The README's table: every env var, its type, default and description."""
    lines = [
        f"`{ROLE}` is `PLANNER`, `SOLVER` or `JUDGE` (each role's engine). Lists and `engine_kwargs` are JSON.",
        "",
        "| env var | type | default | description |",
        "|---|---|---|---|",
    ]
    lines += [f"| `{s.env}` | {_cell(s.type)} | `{_cell(s.default)}` | {_cell(s.description)} |" for s in walk()]
    return "\n".join(lines)


def _chart_values() -> tuple[dict[str, Any], dict[str, Any]]:
    values = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    schema = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
    return values, schema


def _properties(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """The properties of a schema node, following ``$ref``."""
    if "$ref" in node:
        node = schema["definitions"][node["$ref"].rsplit("/", 1)[1]]
    return node.get("properties", {}) if "patternProperties" not in node else {}


def chart_pairs() -> list[tuple[str, str]]:
    """(values key, settings path) for every value the chart passes to the pods as a setting."""
    _, schema = _chart_values()
    pairs = list(DIRECT.items())

    def expand(value_prefix: str, setting_prefix: str, node: dict[str, Any]) -> None:
        for key, child in _properties(schema, node).items():
            if key in CHART_OWN:
                continue
            if _properties(schema, child):
                expand(f"{value_prefix}.{key}", f"{setting_prefix}.{_snake(key)}", child)
            else:
                pairs.append((f"{value_prefix}.{key}", f"{setting_prefix}.{_snake(key)}"))

    for section, setting in PASSTHROUGH.items():
        expand(section, setting, schema["properties"][section])
    solver = schema["properties"]["solver"]["properties"]
    for section in ROLE_PASSTHROUGH:
        expand(f"{ROLE}.{section}", f"{ROLE}.{section}", solver[section])
    return pairs


def _chart_default(values: dict[str, Any], key: str, setting: Setting) -> str:
    """The solver's (or the release's) value in values.yaml; the setting's own default where the chart sets none."""
    node: Any = values
    for part in key.replace(ROLE, "solver").split("."):
        if not isinstance(node, dict) or part not in node:
            return setting.default
        node = node[part]
    return _show(node) if node not in ("", None) else setting.default


def chart_table() -> str:
    """The chart README's table: each value that becomes a setting, its env var, default and description."""
    values, _ = _chart_values()
    settings = by_path()
    lines = [
        f"`{ROLE}` is `planner`, `solver` or `judge` (`K2_PLANNER__...`, ...); defaults are the solver's in "
        "values.yaml, or the setting's own where values.yaml sets none. An engine section reaches only a role on that "
        "backend.",
        "",
        "| value | env var | type | default | description |",
        "|---|---|---|---|---|",
    ]
    for key, path in chart_pairs():
        if path not in settings:
            raise KeyError(f"chart value {key} maps to {path}, which is not a setting")
        s = settings[path]
        default = _chart_default(values, key, s)
        lines.append(f"| `{key}` | `{s.env}` | {_cell(s.type)} | `{_cell(default)}` | {_cell(s.description)} |")
    return "\n".join(lines)


def replace_section(text: str, body: str, name: str) -> str:
    """``text`` with the part between the markers replaced by ``body``; missing markers name the file."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"{name}: no {BEGIN} ... {END} markers")
    return text[: start + len(BEGIN)] + "\n" + body + "\n" + text[end:]


def targets() -> dict[Path, str]:
    """Each documented file and the table it holds."""
    return {README: readme_table(), CHART_README: chart_table()}


def stale() -> list[Path]:
    """The files whose table differs from what the settings render now."""
    return [
        path
        for path, body in targets().items()
        if replace_section(path.read_text(encoding="utf-8"), body, path.name) != path.read_text(encoding="utf-8")
    ]


def main(argv: list[str] | None = None) -> int:
    """Rewrite the settings tables (``--check``: list the stale files and exit 1 instead)."""
    parser = argparse.ArgumentParser(prog="services.settings_docs", description=main.__doc__)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    if args.check:
        found = stale()
        for path in found:
            print(f"{path.relative_to(REPO)} is stale: run `make docs`", file=sys.stderr)
        return 1 if found else 0
    for path, body in targets().items():
        text = path.read_text(encoding="utf-8")
        path.write_text(replace_section(text, body, path.name), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
