"""Where models come from: a trained folder on the training volume, staged weights, the Hugging Face token, and
the in-cluster model servers (Ray Serve, KServe) the planner and judge may share with the solver."""

from __future__ import annotations

import re
import tomllib

import helm_python
import pytest
import yaml
from tests.charts.conftest import CHART, RELEASE

from k2core.training.config import load_config
from k2core.training.launch import merged_hf_dir

CLAIM, FOLDER = "k2think-train", "checkpoints/k2think-rlvr/hf"
VOLUME = {"modelVolume": {"existingClaim": CLAIM}}
HF = {"huggingface": {"existingSecret": "hf-token"}}
HF_ENV = {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf-token", "key": "token"}}}


def _mount(container: dict, path: str) -> dict | None:
    return next((v for v in container.get("volumeMounts", []) if v["mountPath"] == path), None)


def _claim_volume(pod_spec: dict, name: str) -> dict:
    return next(v for v in pod_spec["volumes"] if v["name"] == name)["persistentVolumeClaim"]


def test_vllm_solver_serves_the_trained_folder_from_the_training_volume(render, settings_of):
    m = render("trained-model")
    assert settings_of(m).solver.model == f"/mnt/k2think/{FOLDER}"
    mount = _mount(m.container("solver"), "/mnt/k2think")
    assert mount["readOnly"] is True
    assert _claim_volume(m.pod("solver")["spec"], mount["name"]) == {"claimName": CLAIM, "readOnly": True}
    assert _mount(m.container("judge"), "/mnt/k2think") is None


def test_embedded_role_loads_an_exported_gguf_from_the_volume(render, settings_of):
    m = render({**VOLUME, "judge": {"modelPath": "export/model-q4_k_m.gguf"}})
    judge = settings_of(m).judge
    assert (judge.engine, judge.embedded.model_path) == ("embedded", "/mnt/k2think/export/model-q4_k_m.gguf")
    assert _mount(m.container("judge"), "/mnt/k2think")["readOnly"] is True


def test_kserve_reads_the_trained_folder_through_a_pvc_uri(render):
    solver = {"backend": "openai", "model": "k2", "modelPath": FOLDER}
    m = render({**VOLUME, "kserve": {"enabled": True}, "solver": solver})
    model = m.one("InferenceService")["spec"]["predictor"]["model"]
    assert model["storageUri"] == f"pvc://{CLAIM}/{FOLDER}"
    assert _mount(m.container("solver"), "/mnt/k2think") is None  # the predictor reads it, not the proxy


def test_ray_serve_loads_the_trained_folder_mounted_in_every_ray_pod(render):
    m = render({**VOLUME, "solver": {"backend": "rayserve", "model": "k2", "modelPath": FOLDER}})
    rs = m.one("RayService")["spec"]
    llm = yaml.safe_load(rs["serveConfigV2"])["applications"][0]["args"]["llm_configs"][0]
    assert llm["model_loading_config"] == {"model_id": "k2", "model_source": f"/mnt/k2think/{FOLDER}"}
    cluster = rs["rayClusterConfig"]
    for group in (cluster["headGroupSpec"], *cluster["workerGroupSpecs"]):
        pod = group["template"]["spec"]
        assert _mount(pod["containers"][0], "/mnt/k2think")["readOnly"] is True
        assert _claim_volume(pod, "model-volume")["claimName"] == CLAIM
        # Ray runs as uid 1000; the trained files belong to the training jobs' group.
        assert pod["securityContext"]["supplementalGroups"] == [10001]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"solver": {"modelPath": FOLDER}}, "solver.modelPath needs modelVolume.existingClaim"),
        (
            {**VOLUME, "solver": {"backend": "cerebras", "modelPath": FOLDER, "cerebras": {"existingSecret": "c"}}},
            "solver.backend=cerebras cannot",
        ),
    ],
)
def test_model_path_without_a_volume_or_engine_fails(render, values, message):
    with pytest.raises(helm_python.HelmRenderError, match=message):
        render(values)


def test_weights_are_staged_once_then_vllm_starts_offline(render):
    m = render("gpu-vllm-eagle")
    (init,) = m.pod("solver")["spec"]["initContainers"]
    assert init["args"] == ["LLM360/K2-Think", "yuhuili/EAGLE-Qwen2.5-32B-Instruct"]
    assert "snapshot_download" in init["command"][-1] and init["image"] == m.container("solver")["image"]
    assert _mount(init, "/home/k2think/.cache/huggingface")["name"] == "model-cache"
    assert HF_ENV in init["env"] and "nvidia.com/gpu" not in init["resources"].get("limits", {})
    env = m.container("solver")["env"]
    assert HF_ENV in env and {"name": "HF_HUB_OFFLINE", "value": "1"} in env
    assert "initContainers" not in m.pod("gateway")["spec"]


def test_hugging_face_token_reaches_vllm_ray_and_kserve_pods_only(render):
    vllm = render({**HF, "solver": {"backend": "vllm", "replicas": 1}})
    assert HF_ENV in vllm.container("solver")["env"]
    assert "env" not in vllm.container("judge")
    ray = render({**HF, "solver": {"backend": "rayserve"}}).one("RayService")["spec"]["rayClusterConfig"]
    for group in (ray["headGroupSpec"], *ray["workerGroupSpecs"]):
        assert group["template"]["spec"]["containers"][0]["env"] == [HF_ENV]
    isvc = render({**HF, "kserve": {"enabled": True}, "solver": {"backend": "openai"}}).one("InferenceService")
    assert isvc["spec"]["predictor"]["model"]["env"] == [HF_ENV]


def test_rayservice_upgrade_strategy_autoscaler_and_pinned_image(render):
    digest = "sha256:" + "cd" * 32
    rayserve = {"upgradeStrategy": "None", "image": {"digest": digest}}
    m = render({"solver": {"backend": "rayserve", "rayserve": rayserve}})
    spec = m.one("RayService")["spec"]
    assert spec["upgradeStrategy"] == {"type": "None"}
    autoscaler = spec["rayClusterConfig"]["autoscalerOptions"]
    assert autoscaler["securityContext"]["allowPrivilegeEscalation"] is False
    assert autoscaler["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    head = spec["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    assert head["image"] == f"rayproject/ray-llm:2.60.0-py312-cu130@{digest}"


def test_default_ray_image_is_a_ray_llm_tag_of_the_projects_ray(render):
    """Ray builds ray-llm as <ray version>-py312-cu130 from 2.56 on; the tag and rayVersion follow pyproject's Ray."""
    pyproject = tomllib.loads((CHART.parents[1] / "pyproject.toml").read_text())
    (ray,) = [d for d in pyproject["project"]["optional-dependencies"]["train"] if d.startswith("ray[")]
    version = ray.split("==")[1]
    values = yaml.safe_load((CHART / "values.yaml").read_text())["solver"]["rayserve"]
    assert values["rayVersion"] == version
    assert re.fullmatch(rf"{re.escape(version)}-py3\d+-cu\d+", values["image"]["tag"])
    spec = render({"solver": {"backend": "rayserve"}}).one("RayService")["spec"]["rayClusterConfig"]
    assert spec["rayVersion"] == version
    for group in (spec["headGroupSpec"], *spec["workerGroupSpecs"]):
        assert group["template"]["spec"]["containers"][0]["image"] == f"rayproject/ray-llm:{values['image']['tag']}"


@pytest.mark.parametrize("tag", ["2.59.0-py312-cu130", "2.60.00-py312-cu130", "latest"])
def test_ray_image_of_another_ray_version_fails(render, tag):
    with pytest.raises(helm_python.HelmRenderError, match=f"solver.rayserve.image.tag {tag} is not an image of Ray"):
        render({"solver": {"backend": "rayserve", "rayserve": {"image": {"tag": tag}}}})


@pytest.mark.parametrize(("ci", "model"), [("rayserve", "LLM360/K2-Think"), ("kserve", "k2-think")])
def test_gpu_profiles_plan_and_judge_on_the_served_model(render, settings_of, ci, model):
    m = render(ci)
    settings = settings_of(m)
    for role in ("planner", "judge"):
        engine = getattr(settings, role)
        assert (engine.engine, engine.model, engine.base_url) == ("openai", model, settings.solver.base_url)


def test_model_server_pods_have_a_disruption_budget(render):
    m = render("rayserve")
    pdb = m.one("PodDisruptionBudget", f"{RELEASE}-k2think-solver-llm")
    workers = m.one("RayService")["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["template"]["metadata"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= workers["labels"].items()
    kserve = render("kserve").one("PodDisruptionBudget", f"{RELEASE}-k2think-solver-llm")
    assert kserve["spec"]["selector"]["matchLabels"] == {
        "serving.kserve.io/inferenceservice": f"{RELEASE}-k2think-solver-llm"
    }


def test_per_request_prices_reach_each_role(render, settings_of):
    values = {
        "solver": {"pricePerMillionPrompt": 0.6, "pricePerMillionCompletion": 2.4},
        "judge": {"pricePerMillionPrompt": 0.1, "pricePerMillionCompletion": 0.4},
    }
    settings = settings_of(render(values))
    assert (settings.solver.price_per_million_prompt, settings.solver.price_per_million_completion) == (0.6, 2.4)
    assert (settings.judge.price_per_million_prompt, settings.judge.price_per_million_completion) == (0.1, 0.4)
    assert settings.planner.price_per_million_prompt is None


def test_trained_model_profile_serves_what_the_rlvr_job_writes(render, settings_of):
    """The last link of the training chain: the chart serves <RLVR checkpoint.uri>/hf from the jobs' claim."""
    config = load_config(CHART.parents[1] / "training-jobs" / "rlvr" / "config.yaml")
    m = render("trained-model")
    assert m.values["modelVolume"]["existingClaim"] == config.cluster.volume.claim
    assert m.values["modelVolume"]["mountPath"] == config.cluster.mount_path
    assert settings_of(m).solver.model == merged_hf_dir(config)
