"""Invariants of every ci/ values file: probes, selectors, PDBs, security, autoscalers, settings."""

from __future__ import annotations

import re

import pytest
from pydantic import BaseModel

from services.runtime import LIVENESS_SERVICE
from services.settings import ServiceSettings
from tests.charts.conftest import CI_NAMES, RELEASE, ROLES


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def _pods_selected(m, selector: dict[str, str]) -> list[str]:
    return [
        d["metadata"]["name"]
        for d in m.kind("Deployment")
        if _matches(selector, d["spec"]["template"]["metadata"]["labels"])
    ]


@pytest.mark.parametrize("ci", CI_NAMES)
def test_every_role_has_deployment_service_and_pdb(render, ci):
    m = render(ci)
    for role in ROLES:
        m.role("Deployment", role)
        m.role("Service", role)
        m.role("PodDisruptionBudget", role)


@pytest.mark.parametrize("ci", CI_NAMES)
def test_probes_are_grpc_health_never_tcp(render, settings_of, ci):
    """gRPC health on the plaintext health-only port the server opens (kubelet gRPC probes cannot speak TLS, and
    it answers through a drain), never a TCP check that passes while the engine loads."""
    m = render(ci)
    health_port = settings_of(m).server.health_port
    for role in ROLES:
        container = m.container(role)
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        expected = ports["health"]  # plaintext, and answering through a drain (the gRPC port closes at GOAWAY)
        assert health_port == expected
        for probe in ("startupProbe", "readinessProbe"):  # the server: SERVING once its engine is loaded and warm
            assert container[probe]["grpc"] == {"port": expected}
            assert "tcpSocket" not in container[probe]
        # liveness: the engine answers its health check in time (services.runtime.LIVENESS_SERVICE)
        assert container["livenessProbe"]["grpc"] == {"port": expected, "service": LIVENESS_SERVICE}


@pytest.mark.parametrize("ci", CI_NAMES)
def test_services_select_their_role_and_name_real_ports(render, ci):
    m = render(ci)
    for svc in m.kind("Service"):
        selected = _pods_selected(m, svc["spec"]["selector"])
        assert len(selected) == 1, f"{svc['metadata']['name']} selects {selected}"
        deployment = m.one("Deployment", selected[0])
        port_names = {p["name"] for p in deployment["spec"]["template"]["spec"]["containers"][0]["ports"]}
        for port in svc["spec"]["ports"]:
            assert port["targetPort"] in port_names
        if not svc["metadata"]["name"].endswith("-http"):
            grpc = next(p for p in svc["spec"]["ports"] if p["name"] == "grpc")
            assert grpc["appProtocol"] == "grpc"
            assert {p["name"] for p in svc["spec"]["ports"]} == {"grpc", "metrics"}


@pytest.mark.parametrize("ci", CI_NAMES)
def test_network_policies_select_pods_and_peers_exist(render, ci):
    m = render(ci)
    for policy in m.kind("NetworkPolicy"):
        assert len(_pods_selected(m, policy["spec"]["podSelector"]["matchLabels"])) == 1
        test_pods = [p["metadata"]["labels"] for p in m.kind("Pod")]
        for rule in policy["spec"]["ingress"]:
            for peer in rule.get("from", []):
                if "podSelector" in peer and "namespaceSelector" not in peer:
                    selector = peer["podSelector"]["matchLabels"]
                    assert _pods_selected(m, selector) or any(_matches(selector, labels) for labels in test_pods)


@pytest.mark.parametrize("ci", CI_NAMES)
def test_pdbs_never_block_every_eviction(render, ci):
    m = render(ci)
    for pdb in m.kind("PodDisruptionBudget"):
        assert "minAvailable" not in pdb["spec"]
        unavailable = pdb["spec"]["maxUnavailable"]
        assert (unavailable >= 1) if isinstance(unavailable, int) else int(unavailable.rstrip("%")) >= 1
        selector = pdb["spec"]["selector"]["matchLabels"]
        assert len(_pods_selected(m, selector)) + len(_model_server_pods_selected(m, selector)) == 1


def _model_server_pods_selected(m, selector: dict[str, str]) -> list[str]:
    """Names of the RayService / InferenceService whose pods the selector matches."""
    found = []
    for rs in m.kind("RayService"):
        cluster = rs["spec"]["rayClusterConfig"]
        groups = [cluster["headGroupSpec"], *cluster["workerGroupSpecs"]]
        if all(_matches(selector, g["template"]["metadata"]["labels"]) for g in groups):
            found.append(rs["metadata"]["name"])
    for isvc in m.kind("InferenceService"):
        # KServe labels every predictor pod with the InferenceService's name.
        if _matches(selector, {"serving.kserve.io/inferenceservice": isvc["metadata"]["name"]}):
            found.append(isvc["metadata"]["name"])
    return found


@pytest.mark.parametrize("ci", CI_NAMES)
def test_pods_are_locked_down(render, ci):
    m = render(ci)
    for role in ROLES:
        pod = m.pod(role)["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"]["drop"] == ["ALL"]
            mounts = {v["mountPath"]: v["name"] for v in c["volumeMounts"]}
            volumes = {v["name"]: v for v in pod["volumes"]}
            assert "emptyDir" in volumes[mounts["/tmp"]]
            assert "emptyDir" in volumes[mounts["/home/k2think"]]
            assert c["resources"]["requests"]


@pytest.mark.parametrize("ci", CI_NAMES)
def test_each_deployment_has_at_most_one_autoscaler_and_then_no_fixed_replicas(render, ci):
    m = render(ci)
    targets = [
        o["spec"]["scaleTargetRef"]["name"]
        for o in m.kind("HorizontalPodAutoscaler") + m.kind("ScaledObject")
    ]
    assert len(targets) == len(set(targets))
    for deployment in m.kind("Deployment"):
        scaled = deployment["metadata"]["name"] in targets
        assert ("replicas" in deployment["spec"]) is not scaled


def _unknown_part(name: str) -> str | None:
    """The first part of a K2_ env var name that is not a settings field; None when the whole name is one."""
    model: type[BaseModel] | None = ServiceSettings
    parts = name.removeprefix("K2_").lower().split("__")
    for i, part in enumerate(parts):
        if model is None or part not in model.model_fields:
            return "__".join(parts[: i + 1])
        annotation = model.model_fields[part].annotation
        model = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    return None


@pytest.mark.parametrize("ci", CI_NAMES)
def test_every_k2_env_var_is_a_settings_field_and_parses(render, settings_of, ci):
    m = render(ci)
    names = set(m.env)
    for deployment in m.kind("Deployment"):
        for c in deployment["spec"]["template"]["spec"]["containers"]:
            names |= {e["name"] for e in c.get("env", [])}
            assert c["envFrom"] == [{"configMapRef": {"name": f"{RELEASE}-k2think"}}]
    k2 = sorted(n for n in names if n.startswith("K2_"))
    assert k2 and all(re.fullmatch(r"K2_[A-Z0-9_]+", n) for n in k2)
    assert {n: _unknown_part(n) for n in k2 if _unknown_part(n)} == {}
    settings = settings_of(m)
    solver = m.values["solver"]
    served = f"{m.values['modelVolume']['mountPath']}/{solver['modelPath']}" if solver["modelPath"] else solver["model"]
    assert settings.solver.model == (served if solver["backend"] == "vllm" else solver["model"])
    assert settings.pipeline.n == m.values["pipeline"]["n"]
    assert settings.server.host == "0.0.0.0"


def test_settings_walk_rejects_a_typo():
    assert _unknown_part("K2_SOLVER__VLLM__SPECULATIVE__METHOD") is None
    assert _unknown_part("K2_SOLVER__VLLM__SPECULATIVE__METHD") == "solver__vllm__speculative__methd"
    assert _unknown_part("K2_PIPELINE__N__X") == "pipeline__n__x"
    assert _unknown_part("K2_SERVR__HOST") == "servr"


def _sample(schema: dict, root: dict):
    """A valid value for every property of an object schema (following $ref), to exercise each key."""
    if "$ref" in schema:
        return _sample(root["definitions"][schema["$ref"].rsplit("/", 1)[1]], root)
    if schema.get("type") == "object":
        if "patternProperties" in schema:  # free-form names (vllm.engineKwargs): one the pattern allows
            return {"x": True}
        return {k: _sample(v, root) for k, v in schema["properties"].items()}
    if "enum" in schema:
        return schema["enum"][-1]
    kind = schema["type"] if isinstance(schema["type"], str) else next(t for t in schema["type"] if t != "null")
    return {"integer": 2, "number": 0.5, "boolean": True, "string": "x"}[kind]


@pytest.mark.parametrize("backend", ["vllm", "cerebras", "embedded"])
def test_every_passthrough_key_the_schema_allows_is_a_setting(chart, render, settings_of, backend):
    """Keys the chart copies to K2_ names (pipeline, limits, vllm, cerebras, embedded) are all Settings fields."""
    schema = chart.schema
    solver = schema["properties"]["solver"]["properties"]
    values = {
        "pipeline": _sample(schema["properties"]["pipeline"], schema),
        "limits": _sample(schema["properties"]["limits"], schema),
        "solver": {"backend": backend, "replicas": 1, backend: _sample(solver[backend], schema)},
    }
    m = render(values)
    assert {n: _unknown_part(n) for n in m.env if _unknown_part(n)} == {}
    emitted = {n for n in m.env if n.startswith(f"K2_SOLVER__{backend.upper()}__")}
    assert len(emitted) >= 2
    settings_of(m)
