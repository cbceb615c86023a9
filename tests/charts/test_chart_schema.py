"""values.schema.json keeps the values contract and rejects bad values with a message naming the key."""

from __future__ import annotations

import helm_python
import pytest

CONTRACT = [
    "solver.backend",
    "solver.replicas",
    "solver.vllm.speculative.method",
    "solver.cerebras.existingSecret",
    "autoscaling.keda.enabled",
    "autoscaling.keda.targetInflight",
    "autoscaling.keda.prometheus.serverAddress",
    "kserve.enabled",
    "metrics.serviceMonitor.enabled",
    "networkPolicy.enabled",
    "image.repository",
    "image.tag",
    "gpuImage.repository",
    "gpuImage.tag",
    "planner.backend",
    "planner.model",
    "judge.backend",
    "judge.model",
]


@pytest.mark.parametrize("path", CONTRACT)
def test_contract_paths_exist_in_defaults(chart, path):
    node = chart.values
    for key in path.split("."):
        assert key in node, f"{path} missing"
        node = node[key]


def test_defaults_are_embedded_and_keda_points_at_kube_prometheus(chart):
    values = chart.values
    assert {values[r]["backend"] for r in ("planner", "solver", "judge")} == {"embedded"}
    assert (
        values["autoscaling"]["keda"]["prometheus"]["serverAddress"]
        == "http://prometheus-operated.monitoring.svc:9090"
    )


@pytest.mark.parametrize(
    ("values", "fragments"),
    [
        (
            {"solver": {"backend": "tpu"}},
            ["/solver/backend", "'embedded', 'vllm', 'cerebras', 'openai', 'rayserve'"],
        ),
        ({"planner": {"backend": "rayserve"}}, ["/planner/backend", "value must be one of"]),
        (
            {"solver": {"vllm": {"speculative": {"method": "medusa"}}}},
            ["/solver/vllm/speculative/method", "'eagle3'"],
        ),
        ({"solver": {"replicas": "three"}}, ["/solver/replicas", "want integer"]),
        ({"replicaCount": 3}, ["additional properties 'replicaCount' not allowed"]),
        ({"solver": {"vllm": {"tensorParalelSize": 2}}}, ["/solver/vllm", "'tensorParalelSize' not allowed"]),
        ({"podDisruptionBudget": {"maxUnavailable": 0}}, ["/podDisruptionBudget/maxUnavailable"]),
        ({"kserve": {"deploymentMode": "Knative"}}, ["/kserve/deploymentMode"]),
        ({"solver": {"vllm": {"gpuMemoryUtilization": 0.9}}}, ["/solver/vllm", "'gpuMemoryUtilization' not allowed"]),
        ({"solver": {"vllm": {"engineKwargs": {"max_model_len": 4096}}}}, ["/solver/vllm/engineKwargs"]),
        ({"judge": {"vllm": {"engineKwargs": {"gpuMemoryUtilization": 0.5}}}}, ["/judge/vllm/engineKwargs"]),
        ({"planner": {"embedded": {"quantisation": "q2_k"}}}, ["/planner/embedded/quantisation", "'q8_0'"]),
        ({"solver": {"embedded": {"prefixReuse": "yes"}}}, ["/solver/embedded/prefixReuse", "want boolean"]),
    ],
)
def test_schema_rejects_bad_values_naming_the_key(chart, values, fragments):
    with pytest.raises(helm_python.HelmValuesError) as err:
        chart.validate_schema(values)
    for fragment in fragments:
        assert fragment in str(err.value)


def test_render_enforces_the_schema(render):
    with pytest.raises(helm_python.HelmValuesError, match="/solver/backend"):
        render({"solver": {"backend": "tpu"}})
