"""Values reach the right objects: backends, GPUs, secrets, autoscaling, network policy, auth and TLS."""

from __future__ import annotations

import json

import helm_python
import pytest
import yaml
from tests.charts.conftest import NAMESPACE, RELEASE, ROLES

GPU = "nvidia.com/gpu"
PREFIX = f"{RELEASE}-k2think"


def _gpus(m) -> dict[str, int]:
    return {r: m.container(r)["resources"].get("limits", {}).get(GPU, 0) for r in ROLES}


def _volume(m, role: str, mount_path: str) -> dict:
    container, pod = m.container(role), m.pod(role)["spec"]
    name = next(v["name"] for v in container["volumeMounts"] if v["mountPath"] == mount_path)
    return next(v for v in pod["volumes"] if v["name"] == name)


def test_default_is_the_embedded_cpu_stack(render, settings_of):
    m = render()
    settings = settings_of(m)
    for role in ("planner", "solver", "judge"):
        assert getattr(settings, role).engine == "embedded"
    assert {m.container(r)["image"] for r in ROLES} == {"ghcr.io/k2think/k2think:0.1.0"}
    assert {m.container(r)["args"][1] for r in ROLES} == set(ROLES)
    assert _gpus(m) == dict.fromkeys(ROLES, 0)
    assert not m.kind("NetworkPolicy") and not m.kind("HorizontalPodAutoscaler")
    assert settings.server.solver_addresses == [f"{PREFIX}-solver.{NAMESPACE}.svc:50053"]
    assert settings.server.planner_address == f"{PREFIX}-planner.{NAMESPACE}.svc:50052"
    assert "port-forward svc/rel-k2think-gateway-http" in m.notes


def test_contract_values_reach_the_objects(render):
    m = render({"image": {"registry": "reg.example:5000/team", "tag": "v9"}, "solver": {"replicas": 5}})
    assert m.container("judge")["image"] == "reg.example:5000/team/k2think:v9"
    assert m.role("Deployment", "solver")["spec"]["replicas"] == 5


def test_one_place_sets_registry_and_tag_and_digests_pin_images(render):
    digest = "sha256:" + "ab" * 32
    m = render(
        {
            "image": {"registry": "mirror.example/k2", "tag": "1.2.3"},
            "gpuImage": {"digest": digest},
            "solver": {"backend": "vllm", "replicas": 1},
        }
    )
    assert m.container("gateway")["image"] == "mirror.example/k2/k2think:1.2.3"
    assert m.container("solver")["image"] == f"mirror.example/k2/k2think-gpu:1.2.3@{digest}"
    bare = render({"image": {"registry": "", "repository": "k2think", "tag": "", "digest": digest}})
    assert bare.container("planner")["image"] == f"k2think:0.1.0@{digest}"


@pytest.mark.parametrize(
    "image",
    [{"digest": "sha256:123"}, {"tag": "has space"}, {"registry": "https://reg.example"}, {"repository": "K2"}],
)
def test_schema_rejects_malformed_image_references(chart, image):
    with pytest.raises(helm_python.HelmValuesError, match="/image/"):
        chart.validate_schema({"image": image})


def test_vllm_eagle_reaches_solver_settings_on_a_gpu_image(render, settings_of):
    m = render("gpu-vllm-eagle")
    assert m.env["K2_SOLVER__VLLM__SPECULATIVE__METHOD"] == "eagle"
    spec = settings_of(m).solver.vllm
    assert (spec.speculative.method, spec.speculative.num_speculative_tokens) == ("eagle", 4)
    assert spec.speculative.model == "yuhuili/EAGLE-Qwen2.5-32B-Instruct"
    assert (spec.tensor_parallel_size, spec.max_model_len) == (2, 65536)
    assert settings_of(m).solver.engine == "vllm"
    assert m.container("solver")["image"] == "ghcr.io/k2think/k2think-gpu:0.1.0"
    assert m.container("gateway")["image"] == "ghcr.io/k2think/k2think:0.1.0"
    assert _gpus(m) == {"gateway": 0, "planner": 1, "solver": 2, "judge": 1}
    for role in ("planner", "judge"):  # real models, not the embedded CPU one
        assert (getattr(settings_of(m), role).engine, getattr(settings_of(m), role).model) == (
            "vllm",
            "Qwen/Qwen2.5-7B-Instruct",
        )
    assert _volume(m, "solver", "/dev/shm")["emptyDir"]["medium"] == "Memory"
    claim = _volume(m, "solver", "/home/k2think/.cache/huggingface")["persistentVolumeClaim"]["claimName"]
    pvc = m.one("PersistentVolumeClaim", claim)
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    assert m.container("solver")["startupProbe"]["failureThreshold"] == 120


@pytest.mark.parametrize(
    ("backend", "extra"),
    [
        ("embedded", {}),
        ("vllm", {}),
        ("cerebras", {"cerebras": {"existingSecret": "c"}}),
        ("openai", {"openai": {"baseUrl": "https://llm.example/v1"}}),
        ("rayserve", {}),
    ],
)
def test_gpu_limits_only_with_vllm(render, backend, extra):
    m = render({"solver": {"backend": backend, "replicas": 1, **extra}})
    assert _gpus(m)["solver"] == (1 if backend == "vllm" else 0)
    assert not m.kind("PersistentVolumeClaim") or backend == "vllm"


def test_vllm_engine_kwargs_reach_the_engine_args_as_given(render, settings_of):
    from k2core.engines.vllm import build_engine_args

    m = render("gpu-vllm-eagle")
    assert json.loads(m.env["K2_SOLVER__VLLM__ENGINE_KWARGS"]) == {"gpu_memory_utilization": 0.92}
    args = build_engine_args(settings_of(m).solver)
    assert args["gpu_memory_utilization"] == 0.92 and args["tensor_parallel_size"] == 2
    assert args["speculative_config"]["method"] == "eagle"
    assert "K2_PLANNER__VLLM__ENGINE_KWARGS" not in m.env  # none given: vLLM's own defaults


def test_vllm_engine_kwargs_reach_ray_serve_and_kserve_too(render):
    kwargs = {"enable_prefix_caching": True, "max_num_seqs": 64}
    ray = render({"solver": {"backend": "rayserve", "vllm": {"engineKwargs": kwargs}}})
    app = yaml.safe_load(ray.one("RayService")["spec"]["serveConfigV2"])["applications"][0]
    engine_kwargs = app["args"]["llm_configs"][0]["engine_kwargs"]
    assert engine_kwargs == {**kwargs, "max_model_len": 65536, "tensor_parallel_size": 1}
    kserve = render({"kserve": {"enabled": True}, "solver": {"backend": "openai", "vllm": {"engineKwargs": kwargs}}})
    args = kserve.one("InferenceService")["spec"]["predictor"]["model"]["args"]
    assert "--enable-prefix-caching" in args and "--max-num-seqs=64" in args


def test_embedded_quantisation_and_prefix_reuse_reach_each_role(render, settings_of):
    m = render(
        {
            "solver": {"embedded": {"quantisation": "q4_0", "prefixReuse": False}},
            "judge": {"embedded": {"quantisation": "q8_0"}},
        }
    )
    s = settings_of(m)
    assert (s.solver.embedded.quantisation, s.solver.embedded.prefix_reuse) == ("q4_0", False)
    assert (s.judge.embedded.quantisation, s.judge.embedded.prefix_reuse) == ("q8_0", True)
    assert (s.planner.embedded.quantisation, s.planner.embedded.prefix_reuse) == ("q4_k_m", True)
    assert m.env["K2_SOLVER__EMBEDDED__QUANTISATION"] == "q4_0"
    assert "K2_PLANNER__EMBEDDED__QUANTISATION" not in m.env
    # A judge change restarts only the judge: each engine role's checksum covers its own settings.
    base = render({"solver": {"embedded": {"quantisation": "q4_0", "prefixReuse": False}}})
    checksum = lambda r, x: x.pod(r)["metadata"]["annotations"]["checksum/config"]  # noqa: E731
    assert checksum("judge", m) != checksum("judge", base) and checksum("solver", m) == checksum("solver", base)


def test_embedded_settings_are_not_sent_to_other_backends(render):
    cerebras = {"backend": "cerebras", "cerebras": {"existingSecret": "c"}}
    m = render({"solver": {**cerebras, "embedded": {"quantisation": "q8_0"}}})
    assert not [n for n in m.env if n.startswith("K2_SOLVER__EMBEDDED__")]


def test_cerebras_key_is_a_mounted_secret_file(render, settings_of):
    m = render("cerebras")
    path = m.env["K2_SOLVER__CEREBRAS__API_KEY_FILE"]
    assert settings_of(m).solver.cerebras.api_key_file == path
    assert settings_of(m).solver.engine == "cerebras"
    volume = _volume(m, "solver", path.rsplit("/", 1)[0])
    assert volume["secret"] == {
        "secretName": "cerebras-api",
        "items": [{"key": "api-key", "path": "api-key"}],
    }
    assert all(
        v["name"] != volume["name"]
        for r in ("gateway", "planner", "judge")
        for v in m.pod(r)["spec"]["volumes"]
    )
    assert "CEREBRAS_API_KEY" not in json.dumps(m.objects)


def test_openai_backend_uses_external_url_and_optional_key(render, settings_of):
    m = render(
        {
            "solver": {
                "backend": "openai",
                "model": "gpt-oss",
                "openai": {"baseUrl": "https://llm.example/v1", "existingSecret": "oa"},
            }
        }
    )
    solver = settings_of(m).solver
    assert (solver.engine, solver.base_url, solver.model) == ("openai", "https://llm.example/v1", "gpt-oss")
    volume = _volume(m, "solver", solver.api_key_file.rsplit("/", 1)[0])
    assert volume["secret"]["secretName"] == "oa"


def test_planner_and_judge_mirror_the_solver(render, settings_of):
    m = render(
        {
            "planner": {
                "backend": "openai",
                "model": "planner-7b",
                "openai": {"baseUrl": "http://p.llm:8000/v1"},
            },
            "judge": {"backend": "vllm", "model": "Qwen/Qwen3-8B", "vllm": {"tensorParallelSize": 2}},
        }
    )
    s = settings_of(m)
    assert (s.planner.engine, s.planner.model, s.planner.base_url) == (
        "openai",
        "planner-7b",
        "http://p.llm:8000/v1",
    )
    assert (s.judge.engine, s.judge.vllm.tensor_parallel_size) == ("vllm", 2)
    assert _gpus(m) == {"gateway": 0, "planner": 0, "solver": 0, "judge": 2}
    assert m.container("judge")["image"].startswith("ghcr.io/k2think/k2think-gpu:")


def test_rayserve_runs_ray_serve_llm_and_the_solver_calls_its_service(render, settings_of):
    m = render("rayserve")
    rs = m.one("RayService")
    app = yaml.safe_load(rs["spec"]["serveConfigV2"])["applications"][0]
    assert app["import_path"] == "ray.serve.llm:build_openai_app"
    llm = app["args"]["llm_configs"][0]
    assert llm["model_loading_config"] == {"model_id": "LLM360/K2-Think", "model_source": "LLM360/K2-Think"}
    assert llm["engine_kwargs"]["speculative_config"] == {"method": "mtp", "num_speculative_tokens": 1}
    assert llm["engine_kwargs"]["tensor_parallel_size"] == 2
    assert llm["deployment_config"]["autoscaling_config"] == {
        "min_replicas": 1,
        "max_replicas": 3,
        "target_ongoing_requests": 16,
    }
    assert llm["accelerator_type"] == "H100"
    worker = rs["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]
    assert worker["template"]["spec"]["containers"][0]["resources"]["limits"][GPU] == 2
    solver = settings_of(m).solver
    assert solver.engine == "openai"
    assert (
        solver.base_url == f"http://{rs['metadata']['name']}-serve-svc.{NAMESPACE}.svc.cluster.local:8000/v1"
    )
    assert _gpus(m)["solver"] == 0


def test_kserve_serves_the_model_and_the_solver_calls_openai_routes(render, settings_of):
    m = render("kserve")
    isvc = m.one("InferenceService")
    model = isvc["spec"]["predictor"]["model"]
    assert model["modelFormat"] == {"name": "huggingface"}
    assert model["storageUri"] == "hf://LLM360/K2-Think"
    assert "--model_name=k2-think" in model["args"]
    spec_arg = next(a for a in model["args"] if a.startswith("--speculative-config="))
    assert json.loads(spec_arg.split("=", 1)[1]) == {
        "method": "ngram",
        "num_speculative_tokens": 5,
        "prompt_lookup_max": 4,
    }
    assert model["resources"]["limits"][GPU] == 4
    solver = settings_of(m).solver
    assert (solver.engine, solver.model) == ("openai", "k2-think")
    assert (
        solver.base_url
        == f"http://{isvc['metadata']['name']}-predictor.{NAMESPACE}.svc.cluster.local/openai/v1"
    )


def test_keda_scales_solver_and_gateway_on_their_own_inflight_gauges(render):
    m = render("keda")
    for role, threshold, least in (("solver", "4", 2), ("gateway", "16", 1)):
        scaled = m.role("ScaledObject", role)
        assert scaled["spec"]["scaleTargetRef"]["name"] == f"{PREFIX}-{role}"
        assert scaled["spec"]["minReplicaCount"] == least >= 1
        assert scaled["spec"]["fallback"] == {"failureThreshold": 3, "replicas": 2}
        (trigger,) = scaled["spec"]["triggers"]
        assert trigger["type"] == "prometheus"
        query = trigger["metadata"]["query"]
        assert query.startswith(f"sum(k2think_{role}_inflight_requests{{") and f'service="{PREFIX}-{role}"' in query
        assert trigger["metadata"]["threshold"] == threshold
        assert trigger["metadata"]["serverAddress"] == "http://prometheus-operated.monitoring.svc:9090"
        assert "replicas" not in m.role("Deployment", role)["spec"]
    hpa_targets = {h["spec"]["scaleTargetRef"]["name"] for h in m.kind("HorizontalPodAutoscaler")}
    assert hpa_targets == {f"{PREFIX}-{r}" for r in ("planner", "judge")}
    monitor = m.role("ServiceMonitor", "gateway") if len(m.kind("ServiceMonitor")) > 1 else m.one("ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert all(any(p["name"] == "metrics" for p in m.role("Service", r)["spec"]["ports"]) for r in ROLES)


def test_hpa_behavior_reaches_hpas_and_keda(render):
    policy = {"type": "Pods", "value": 1, "periodSeconds": 120}
    behavior = {"scaleDown": {"stabilizationWindowSeconds": 600, "policies": [policy]}}
    m = render({"autoscaling": {"enabled": True, "behavior": behavior, "keda": {"enabled": True, "fallback": None}}})
    assert m.role("HorizontalPodAutoscaler", "judge")["spec"]["behavior"] == behavior
    solver = m.role("ScaledObject", "solver")["spec"]
    assert solver["advanced"]["horizontalPodAutoscalerConfig"]["behavior"] == behavior
    assert "fallback" not in solver


def test_vllm_roles_never_get_a_cpu_hpa(render):
    m = render(
        {
            "autoscaling": {"enabled": True},
            "solver": {"backend": "vllm", "replicas": 1},
            "judge": {"backend": "vllm", "model": "Qwen/Qwen3-8B", "replicas": 1},
        }
    )
    hpa_targets = {h["spec"]["scaleTargetRef"]["name"] for h in m.kind("HorizontalPodAutoscaler")}
    assert hpa_targets == {f"{PREFIX}-gateway", f"{PREFIX}-planner"}
    assert m.role("Deployment", "solver")["spec"]["replicas"] == 1


def test_hpa_on_cpu_for_every_role_without_keda(render):
    m = render({"autoscaling": {"enabled": True}})
    assert len(m.kind("HorizontalPodAutoscaler")) == 4 and not m.kind("ScaledObject")
    metric = m.role("HorizontalPodAutoscaler", "solver")["spec"]["metrics"][0]
    assert metric["resource"]["name"] == "cpu"


def _selector(pod) -> dict[str, str]:
    """The selector labels (name, instance, component) of a pod's labels."""
    keys = ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component")
    return {k: pod["metadata"]["labels"][k] for k in keys}


def _ports(rule) -> set[int]:
    return {p["port"] for p in rule["ports"]}


def test_network_policy_only_the_gateway_takes_outside_traffic(render):
    m = render("hardened-minimal")
    gateway_pods = m.pod("gateway")["metadata"]["labels"]
    test_pod = {"podSelector": {"matchLabels": _selector(m.one("Pod"))}}
    gw = m.role("NetworkPolicy", "gateway")["spec"]
    outside, scrape = gw["ingress"]
    assert _ports(outside) == {50051, 8000}
    assert outside["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}},
        test_pod,
    ]
    # Prometheus still scrapes the gateway's /metrics (on its HTTP port) when gatewayFrom narrows who may call it.
    assert _ports(scrape) == {8000} and scrape["from"] == m.values["networkPolicy"]["metricsFrom"]
    for role, (grpc, metrics) in {
        "planner": (50052, 9052),
        "solver": (50053, 9053),
        "judge": (50054, 9054),
    }.items():
        spec = m.role("NetworkPolicy", role)["spec"]
        assert spec["policyTypes"] == ["Ingress", "Egress"]
        from_gateway, scrape = spec["ingress"]
        selector = from_gateway["from"][0]["podSelector"]["matchLabels"]
        assert all(gateway_pods[k] == v for k, v in selector.items()) and _ports(from_gateway) == {grpc}
        assert from_gateway["from"][1] == test_pod
        assert _ports(scrape) == {metrics} and "namespaceSelector" in scrape["from"][0]
        dns, otlp = spec["egress"]  # embedded backends: DNS plus the configured extra rule only
        assert _ports(dns) == {53} and _ports(otlp) == {4317}
    gw_egress = {p for rule in gw["egress"] for p in _ports(rule)}
    assert gw_egress == {53, 50052, 50053, 50054, 4317}


def test_network_policy_lets_the_solver_reach_its_backend_only(render):
    m = render("rayserve")
    egress = m.role("NetworkPolicy", "solver")["spec"]["egress"]
    assert len(egress) == 2
    to_llm = egress[1]
    assert _ports(to_llm) == {8000}
    ray_pods = m.one("RayService")["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["template"]["metadata"][
        "labels"
    ]
    assert to_llm["to"][0]["podSelector"]["matchLabels"] == ray_pods
    external = render(
        {
            "networkPolicy": {"enabled": True},
            "solver": {"backend": "cerebras", "cerebras": {"existingSecret": "c"}},
        }
    )
    rule = external.role("NetworkPolicy", "solver")["spec"]["egress"][1]
    private = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16"]
    assert _ports(rule) == {443} and rule["to"] == [{"ipBlock": {"cidr": "0.0.0.0/0", "except": private}}]


def test_external_egress_excludes_cluster_ranges_only_from_catch_all_cidrs(render):
    m = render(
        {
            "networkPolicy": {
                "enabled": True,
                "externalEgress": {
                    "cidrs": ["0.0.0.0/0", "::/0", "203.0.113.0/24"],
                    "except": ["10.0.0.0/8", "fd00::/8"],
                },
            },
            "judge": {"backend": "openai", "openai": {"baseUrl": "https://llm.example/v1"}},
        }
    )
    (rule,) = [r for r in m.role("NetworkPolicy", "judge")["spec"]["egress"] if 443 in _ports(r)]
    assert rule["to"] == [
        {"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}},
        {"ipBlock": {"cidr": "::/0", "except": ["fd00::/8"]}},
        {"ipBlock": {"cidr": "203.0.113.0/24"}},
    ]


def test_planner_and_judge_on_the_model_server_may_reach_it(render):
    m = render("rayserve")  # networkPolicy.enabled
    llm = m.role("NetworkPolicy", "solver")["spec"]["egress"][1]
    for role in ("planner", "judge"):
        assert m.role("NetworkPolicy", role)["spec"]["egress"][1] == llm


def test_knative_serverless_with_network_policy_is_refused(render):
    values = {"kserve": {"enabled": True, "deploymentMode": "Serverless"}, "networkPolicy": {"enabled": True}}
    with pytest.raises(helm_python.HelmRenderError, match="Serverless routes through the Knative ingress"):
        render(values)


def test_auth_token_and_tls_are_mounted_files(render, settings_of):
    m = render("hardened-minimal")
    server = settings_of(m).server
    for role in ROLES:
        volume = _volume(m, role, server.auth_token_file.rsplit("/", 1)[0])
        assert volume["secret"]["secretName"] == "k2think-auth"
        assert _volume(m, role, "/etc/k2think/tls")["secret"]["secretName"] == "k2think-tls"
        assert m.pod(role)["spec"]["serviceAccountName"] == "k2think-restricted"
    assert (server.tls_cert_file, server.tls_key_file, server.tls_ca_file) == (
        "/etc/k2think/tls/tls.crt",
        "/etc/k2think/tls/tls.key",
        "/etc/k2think/tls/ca.crt",
    )
    assert server.otlp_endpoint == "http://otel-collector.monitoring.svc:4317"
    assert not m.kind("ServiceAccount")


def test_with_tls_the_gateway_metrics_are_scraped_over_verified_https(render):
    m = render("hardened-minimal")
    gateway = m.role("ServiceMonitor", "gateway")
    (endpoint,) = gateway["spec"]["endpoints"]
    assert endpoint["scheme"] == "https"
    assert endpoint["tlsConfig"] == {
        "serverName": f"{PREFIX}-gateway.{NAMESPACE}.svc",
        "ca": {"secret": {"name": "k2think-tls", "key": "ca.crt"}},
    }
    roles = m.one("ServiceMonitor", PREFIX)["spec"]["selector"]["matchExpressions"][0]["values"]
    assert roles == ["planner", "solver", "judge"]
    assert "scheme" not in m.one("ServiceMonitor", PREFIX)["spec"]["endpoints"][0]
    assert m.one("Service", f"{PREFIX}-gateway-http")["spec"]["ports"][0]["appProtocol"] == "https"


def test_ingress_targets_the_gateway_http_service(render):
    m = render({"gateway": {"ingress": {"enabled": True, "className": "nginx"}}})
    backend = m.one("Ingress")["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": f"{PREFIX}-gateway-http", "port": {"name": "http"}}
    m.one("Service", backend["name"])


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"solver": {"backend": "cerebras"}}, "solver.backend=cerebras needs solver.cerebras.existingSecret"),
        ({"judge": {"backend": "openai"}}, "judge.backend=openai needs judge.openai.baseUrl"),
        ({"kserve": {"enabled": True}, "solver": {"backend": "vllm"}}, "solver.backend=vllm conflicts"),
        ({"tls": {"enabled": True}}, "tls.enabled needs tls.existingSecret"),
    ],
)
def test_inconsistent_values_fail_with_a_clear_message(render, values, message):
    with pytest.raises(helm_python.HelmRenderError, match=message):
        render(values)
