"""Safe rollouts and platform escape hatches: shutdown grace, strategies, per-role checksums, pod extras, ranges."""

from __future__ import annotations

import helm_python
import pytest
from tests.charts.conftest import ROLES

GPU_SOLVER = {"backend": "vllm", "replicas": 1}


def _checksums(m) -> dict[str, str]:
    return {r: m.pod(r)["metadata"]["annotations"]["checksum/config"] for r in ROLES}


def test_shutdown_grace_covers_the_prestop_pause_and_the_drain(render, settings_of):
    m = render({"server": {"gracePeriodS": 900, "preStopSleepS": 7}, "judge": {"terminationGracePeriodSeconds": 2000}})
    assert settings_of(m).server.grace_period_s == 900
    for role in ROLES:
        pod = m.pod(role)["spec"]
        assert pod["terminationGracePeriodSeconds"] == (2000 if role == "judge" else 7 + 900 + 15)
        assert pod["containers"][0]["lifecycle"]["preStop"] == {"exec": {"command": ["sleep", "7"]}}
    assert "lifecycle" not in render({"server": {"preStopSleepS": 0}}).container("solver")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"solver": {"terminationGracePeriodSeconds": 60}}, "solver.terminationGracePeriodSeconds .60. must cover"),
        ({"pipeline": {"hardDeadlineS": 7200}}, r"server.gracePeriodS .600. is shorter than pipeline.hardDeadlineS"),
        ({"pipeline": {"softDeadlineS": 500, "hardDeadlineS": 400}}, "pipeline.softDeadlineS/hardDeadlineS"),
        ({"autoscaling": {"minReplicas": 5, "maxReplicas": 2}}, "autoscaling.minReplicas/maxReplicas: minimum 5"),
        ({"autoscaling": {"keda": {"minReplicas": 9, "maxReplicas": 3}}}, "autoscaling.keda.minReplicas/maxReplicas"),
        ({"kserve": {"minReplicas": 3, "maxReplicas": 2}}, "kserve.minReplicas/maxReplicas"),
        ({"pipeline": {"n": 8, "maxN": 4}}, "pipeline.n/maxN"),
        ({"gateway": {"strategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}}}, "cannot both be 0"),
        ({"solver": {"backend": "vllm"}}, "runs up to 2 pods on one ReadWriteOnce model cache"),
        (
            {"solver": GPU_SOLVER, "autoscaling": {"keda": {"enabled": True}}},
            "solver.backend=vllm runs up to 16 pods",
        ),
    ],
)
def test_inconsistent_operations_values_fail_naming_the_keys(render, values, message):
    with pytest.raises(helm_python.HelmRenderError, match=message):
        render(values)


def test_gpu_roles_roll_without_a_second_gpu_pod_and_cpu_roles_without_losing_one(render):
    m = render({"solver": GPU_SOLVER, "judge": {"strategy": {"type": "Recreate"}}})
    strategy = {r: m.role("Deployment", r)["spec"]["strategy"] for r in ROLES}
    assert strategy["solver"]["rollingUpdate"] == {"maxSurge": 0, "maxUnavailable": 1}
    assert strategy["gateway"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    assert strategy["judge"] == {"type": "Recreate"}


def test_schema_refuses_a_recreate_strategy_with_rolling_parameters(chart):
    bad = {"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}
    with pytest.raises(helm_python.HelmValuesError, match="/solver/strategy"):
        chart.validate_schema({"solver": {"strategy": bad}})


def test_shared_gpu_cache_allows_several_vllm_pods(render):
    m = render({"solver": {"backend": "vllm", "replicas": 3, "modelCache": {"accessModes": ["ReadWriteMany"]}}})
    assert m.role("Deployment", "solver")["spec"]["replicas"] == 3


def test_a_judge_setting_does_not_restart_the_solvers(render):
    before = _checksums(render({"solver": GPU_SOLVER}))
    judge_changed = _checksums(render({"solver": GPU_SOLVER, "judge": {"model": "other-judge"}}))
    assert judge_changed["solver"] == before["solver"] and judge_changed["planner"] == before["planner"]
    assert judge_changed["judge"] != before["judge"] and judge_changed["gateway"] != before["gateway"]
    shared_changed = _checksums(render({"solver": GPU_SOLVER, "limits": {"maxInflight": 7}}))
    assert all(shared_changed[r] != before[r] for r in ROLES)


def test_connection_age_is_a_value(render, settings_of):
    limits = settings_of(render({"limits": {"maxConnectionAgeS": 120, "maxConnectionAgeGraceS": 900}})).limits
    assert (limits.max_connection_age_s, limits.max_connection_age_grace_s) == (120, 900)


def test_pod_extras_merge_top_level_and_role_values(render):
    m = render(
        {
            "podLabels": {"team": "ml", "app.kubernetes.io/component": "hijack"},
            "podAnnotations": {"example.com/owner": "ml"},
            "extraEnv": [{"name": "HTTPS_PROXY", "value": "http://proxy:3128"}],
            "extraEnvFrom": [{"secretRef": {"name": "extra"}}],
            "extraVolumes": [{"name": "certs", "configMap": {"name": "ca"}}],
            "extraVolumeMounts": [{"name": "certs", "mountPath": "/etc/ssl/extra", "readOnly": True}],
            "priorityClassName": "k2-default",
            "solver": {
                "podLabels": {"tier": "gpu"},
                "extraEnv": [{"name": "EXTRA", "value": "1"}],
                "priorityClassName": "k2-high",
                "runtimeClassName": "nvidia",
            },
        }
    )
    solver, judge = m.pod("solver"), m.pod("judge")
    assert solver["metadata"]["labels"]["team"] == "ml" and solver["metadata"]["labels"]["tier"] == "gpu"
    assert solver["metadata"]["labels"]["app.kubernetes.io/component"] == "solver"
    assert "tier" not in judge["metadata"]["labels"]
    assert judge["metadata"]["annotations"]["example.com/owner"] == "ml"
    assert [e["name"] for e in m.container("solver")["env"]] == ["HTTPS_PROXY", "EXTRA"]
    assert m.container("judge")["envFrom"][1] == {"secretRef": {"name": "extra"}}
    assert {"name": "certs", "configMap": {"name": "ca"}} in judge["spec"]["volumes"]
    assert m.container("gateway")["volumeMounts"][-1]["mountPath"] == "/etc/ssl/extra"
    assert (solver["spec"]["priorityClassName"], solver["spec"]["runtimeClassName"]) == ("k2-high", "nvidia")
    assert judge["spec"]["priorityClassName"] == "k2-default" and "runtimeClassName" not in judge["spec"]


@pytest.mark.parametrize(
    ("values", "fragment"),
    [
        ({"podLabels": {"bad key!": "x"}}, "/podLabels"),
        ({"podLabels": {"team": "-leading-dash"}}, "/podLabels/team"),
        ({"solver": {"podAnnotations": {"a/b/c": "x"}}}, "/solver/podAnnotations"),
        ({"extraEnv": [{"name": "1BAD", "value": "x"}]}, "/extraEnv/0/name"),
        ({"extraEnv": [{"name": "A", "value": "x", "valueFrom": {"fieldRef": {}}}]}, "/extraEnv/0"),
        ({"extraEnv": [{"value": "x"}]}, "/extraEnv/0"),
        ({"extraEnvFrom": [{"prefix": "X_"}]}, "/extraEnvFrom/0"),
        ({"extraVolumes": [{"name": "Certs", "emptyDir": {}}]}, "/extraVolumes/0/name"),
        ({"extraVolumeMounts": [{"name": "certs", "mountPath": "relative"}]}, "/extraVolumeMounts/0/mountPath"),
        ({"priorityClassName": "High_Priority"}, "/priorityClassName"),
        ({"gateway": {"runtimeClassName": "NVIDIA"}}, "/gateway/runtimeClassName"),
        ({"autoscaling": {"keda": {"minReplicas": 0}}}, "/autoscaling/keda/minReplicas"),
        ({"solver": {"modelPath": "../etc"}}, "/solver/modelPath"),
    ],
)
def test_schema_rejects_what_the_api_server_would(chart, values, fragment):
    with pytest.raises(helm_python.HelmValuesError) as err:
        chart.validate_schema(values)
    assert fragment in str(err.value)
