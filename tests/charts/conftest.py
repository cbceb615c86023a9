"""Render charts/k2think with real Helm (helm-python-sdk) and give tests the objects to inspect."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import helm_python
import pytest
import yaml

from tests.crds import crd_names, load_crd

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "k2think"
CI_DIR = CHART / "ci"
RELEASE = "rel"
NAMESPACE = "k2"
ROLES = ("gateway", "planner", "solver", "judge")
CI_NAMES = sorted(p.name.removesuffix("-values.yaml") for p in CI_DIR.glob("*-values.yaml"))


def ci_values(name: str) -> dict[str, Any]:
    """A ci/ values file parsed the way `helm -f` parses it."""
    return helm_python.values_from_yaml((CI_DIR / f"{name}-values.yaml").read_text())


@dataclass
class Manifests:
    """One rendering: every object, plus lookups by kind and role."""

    objects: list[dict[str, Any]]
    notes: str
    values: dict[str, Any] = field(default_factory=dict)

    def kind(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]

    def one(self, kind: str, name: str | None = None) -> dict[str, Any]:
        found = [o for o in self.kind(kind) if name is None or o["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
        return found[0]

    def role(self, kind: str, role: str) -> dict[str, Any]:
        """The object of `kind` that belongs to a role (planner, solver, judge, gateway)."""
        return self.one(kind, f"{RELEASE}-k2think-{role}")

    def pod(self, role: str) -> dict[str, Any]:
        return self.role("Deployment", role)["spec"]["template"]

    def container(self, role: str) -> dict[str, Any]:
        return self.pod(role)["spec"]["containers"][0]

    @property
    def env(self) -> dict[str, str]:
        """The K2_ settings every role loads (the release ConfigMap, via envFrom)."""
        return self.one("ConfigMap", f"{RELEASE}-k2think")["data"]


def _parse(rendered: dict[str, str]) -> Manifests:
    objects, notes = [], ""
    for path, text in sorted(rendered.items()):
        if path.endswith("NOTES.txt"):
            notes = text
            continue
        objects += [doc for doc in yaml.safe_load_all(text) if doc]
    return Manifests(objects, notes)


@pytest.fixture(scope="session")
def chart():
    with helm_python.Chart.load(CHART) as loaded:
        yield loaded


@pytest.fixture(scope="session")
def render(chart):
    """render(values) -> Manifests; values is a dict or the name of a ci/ values file (rendered once)."""

    rendered_ci: dict[str, Manifests] = {}

    def _render(values: dict[str, Any] | str | None = None) -> Manifests:
        if isinstance(values, str):
            if values not in rendered_ci:
                rendered_ci[values] = _render(ci_values(values))
            return rendered_ci[values]
        manifests = _parse(chart.render(values or {}, name=RELEASE, namespace=NAMESPACE))
        manifests.values = chart.merge_values(values or {})
        return manifests

    return _render


@pytest.fixture(scope="session")
def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """openAPIV3Schema of each served (apiVersion, kind) in the CRD fixtures."""
    schemas = {}
    for name in crd_names():
        crd = load_crd(name)
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schemas[(f"{group}/{version['name']}", kind)] = version["schema"]["openAPIV3Schema"]
    return schemas


@pytest.fixture
def settings_of(monkeypatch):
    """settings_of(manifests) -> the ServiceSettings a pod of that rendering loads from its env."""
    from services.settings import ServiceSettings

    def _load(manifests: Manifests) -> ServiceSettings:
        for key in [k for k in os.environ if k.startswith("K2_")]:
            monkeypatch.delenv(key)
        for key, value in manifests.env.items():
            monkeypatch.setenv(key, value)
        return ServiceSettings()

    return _load
