"""Every ci/ values file renders, lints clean and yields objects valid for Kubernetes and the CRDs."""

from __future__ import annotations

import copy

import helm_python
import jsonschema
import kubernetes_validate
import pytest

from tests.charts.conftest import CHART, CI_NAMES, NAMESPACE, ci_values
from tests.crds import strict_schema

KUBE_VERSION = "1.37.0"
CUSTOM_KINDS = {"ServiceMonitor", "ScaledObject", "InferenceService", "RayService", "PrometheusRule"}
# No official CRD fixture: tests/charts/test_chart_monitoring.py checks PrometheusRule's structure and PromQL.
WITHOUT_CRD_FIXTURE = {"PrometheusRule"}


def test_ci_matrix_covers_every_backend_and_mode():
    assert set(CI_NAMES) == {
        "default",
        "gpu-vllm-eagle",
        "cerebras",
        "kserve",
        "rayserve",
        "keda",
        "hardened-minimal",
        "trained-model",
    }


@pytest.mark.parametrize("ci", CI_NAMES)
def test_helm_lint_is_clean(ci):
    report = helm_python.lint(
        CHART, ci_values(ci), strict=True, namespace=NAMESPACE, kube_version=f"v{KUBE_VERSION}"
    )
    assert report["errors"] == []
    # Severity 1 is informational ("icon is recommended"); warnings and errors are not accepted.
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


@pytest.mark.parametrize("ci", CI_NAMES)
def test_core_objects_are_valid_kubernetes(render, ci):
    core = [o for o in render(ci).objects if o["kind"] not in CUSTOM_KINDS]
    assert core
    for obj in core:
        try:
            kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as err:
            path = ".".join(str(p) for p in err.caught.absolute_path)
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']}: {path}: {err.caught.message}")


@pytest.mark.parametrize("ci", CI_NAMES)
def test_custom_resources_match_official_crds(render, crd_schemas, ci):
    for obj in render(ci).objects:
        if obj["kind"] not in CUSTOM_KINDS or obj["kind"] in WITHOUT_CRD_FIXTURE:
            continue
        schema = crd_schemas[(obj["apiVersion"], obj["kind"])]
        body = copy.deepcopy(obj)
        body["metadata"] = {}  # ObjectMeta is validated by the API server, not the CRD schema.
        errors = sorted(jsonschema.Draft7Validator(strict_schema(schema)).iter_errors(body), key=str)
        assert not errors, f"{obj['kind']}: " + "; ".join(
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5]
        )


@pytest.mark.parametrize(
    ("ci", "kinds"),
    [
        ("default", set()),
        ("gpu-vllm-eagle", set()),
        ("cerebras", set()),
        ("kserve", {"InferenceService"}),
        ("rayserve", {"RayService"}),
        ("keda", {"ScaledObject", "ServiceMonitor", "PrometheusRule"}),
        ("hardened-minimal", {"ServiceMonitor"}),
        ("trained-model", set()),
    ],
)
def test_custom_resources_rendered_only_when_asked(render, ci, kinds):
    assert {o["kind"] for o in render(ci).objects} & CUSTOM_KINDS == kinds


def test_crd_check_catches_a_misspelled_field(render, crd_schemas):
    isvc = copy.deepcopy(render("kserve").one("InferenceService"))
    isvc["spec"]["predictor"]["modell"] = isvc["spec"]["predictor"].pop("model")
    isvc["metadata"] = {}
    schema = strict_schema(crd_schemas[(isvc["apiVersion"], isvc["kind"])])
    assert not jsonschema.Draft7Validator(schema).is_valid(isvc)
