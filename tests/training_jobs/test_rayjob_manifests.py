"""training-jobs/: RayJob manifests validate against KubeRay's CRD, the committed ones match the job files, the
ConfigMap carries the job file and its entrypoint, the shared volume is a ReadWriteMany claim the non-root pods can
write, the jobs are queued (Kueue), bounded and cleaned up, and the image is named with a registry."""

from __future__ import annotations

import copy
from pathlib import Path

import jsonschema
import pytest
import yaml

from k2core.training.config import load_config
from k2core.training.rayjob import CONFIG_MOUNT, manifests, manifests_for_file, to_yaml
from tests.crds import load_crd, strict_schema

REPO = Path(__file__).resolve().parents[2]
JOBS = REPO / "training-jobs"
KINDS = ("sft", "rlvr")


@pytest.fixture(scope="module")
def validator():
    crd = load_crd("ray.io_rayjobs")
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    schema = strict_schema(version["schema"]["openAPIV3Schema"])
    return jsonschema.Draft7Validator(schema)


def rendered(kind: str) -> list[dict]:
    path = JOBS / kind / "config.yaml"
    return manifests_for_file(load_config(path), path)


def pod_specs(rayjob: dict) -> list[dict]:
    cluster = rayjob["spec"]["rayClusterSpec"]
    return [g["template"]["spec"] for g in [cluster["headGroupSpec"], *cluster["workerGroupSpecs"]]]


@pytest.mark.parametrize("kind", KINDS)
def test_rayjob_validates_against_the_crd(kind, validator):
    claim, configmap, rayjob = rendered(kind)
    errors = sorted(validator.iter_errors(rayjob), key=str)
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]
    spec = rayjob["spec"]
    assert rayjob["apiVersion"] == "ray.io/v1" and rayjob["kind"] == "RayJob"
    assert spec["shutdownAfterJobFinishes"] is True
    assert spec["ttlSecondsAfterFinished"] == 3600 and spec["backoffLimit"] == 2
    assert yaml.safe_load(spec["runtimeEnvYAML"])["env_vars"]["TOKENIZERS_PARALLELISM"] == "true"
    head = spec["rayClusterSpec"]["headGroupSpec"]
    assert head["rayStartParams"]["num-gpus"] == "0"
    for group in spec["rayClusterSpec"]["workerGroupSpecs"]:
        container = group["template"]["spec"]["containers"][0]
        assert container["resources"]["limits"]["nvidia.com/gpu"] == 8
        assert {"/dev/shm", "/mnt/k2think", CONFIG_MOUNT} <= {m["mountPath"] for m in container["volumeMounts"]}


@pytest.mark.parametrize("kind", KINDS)
def test_shared_volume_is_a_writable_rwx_claim_and_jobs_are_queued_bounded_and_cleaned_up(kind):
    claim, configmap, rayjob = rendered(kind)
    assert claim["kind"] == "PersistentVolumeClaim" and claim["spec"]["accessModes"] == ["ReadWriteMany"]
    for spec in pod_specs(rayjob):
        assert {"name": "shared", "persistentVolumeClaim": {"claimName": claim["metadata"]["name"]}} in spec["volumes"]
        security = spec["securityContext"]
        assert security["runAsNonRoot"] and security["fsGroup"] == security["runAsUser"] == 10001
        assert spec["containers"][0]["image"] == "ghcr.io/k2think/k2think-train:0.1.0"
    assert rayjob["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "k2think-train"
    assert rayjob["spec"]["activeDeadlineSeconds"] > 0
    assert rayjob["spec"]["shutdownAfterJobFinishes"] is True


def test_image_registry_tag_and_digest_are_set_in_one_place():
    config = load_config(JOBS / "sft" / "config.yaml")
    digest = "sha256:" + "ab" * 32
    image = {"registry": "registry.example:5000/ml", "digest": digest}
    config.cluster.image = config.cluster.image.model_copy(update=image)
    *_, rayjob = manifests(config, "kind: sft\n")
    refs = {spec["containers"][0]["image"] for spec in pod_specs(rayjob)}
    assert refs == {f"registry.example:5000/ml/k2think-train:0.1.0@{digest}"}
    with pytest.raises(ValueError, match="digest"):
        type(config.cluster.image)(digest="latest")


def test_a_typo_fails_validation(validator):
    *_, rayjob = rendered("rlvr")
    broken = copy.deepcopy(rayjob)
    broken["spec"]["shutdownAfterJobFinish"] = broken["spec"].pop("shutdownAfterJobFinishes")
    assert list(validator.iter_errors(broken))
    broken = copy.deepcopy(rayjob)
    del broken["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["template"]
    assert list(validator.iter_errors(broken))


@pytest.mark.parametrize("kind", KINDS)
def test_configmap_ships_the_job_file_and_entrypoint(kind):
    claim, configmap, rayjob = rendered(kind)
    assert configmap["data"]["config.yaml"] == (JOBS / kind / "config.yaml").read_text()
    assert configmap["data"]["entrypoint.py"] == (JOBS / kind / "entrypoint.py").read_text()
    assert rayjob["spec"]["entrypoint"] == f"python {CONFIG_MOUNT}/entrypoint.py --config {CONFIG_MOUNT}/config.yaml"
    volumes = rayjob["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]["volumes"]
    assert {"name": "job-config", "configMap": {"name": configmap["metadata"]["name"]}} in volumes


def test_without_an_entrypoint_file_the_launcher_module_runs():
    config = load_config(JOBS / "sft" / "config.yaml")
    claim, configmap, rayjob = manifests(config, "kind: sft\n")
    assert "entrypoint.py" not in configmap["data"]
    assert rayjob["spec"]["entrypoint"].startswith("python -m k2core.training.launch sft --config ")


@pytest.mark.parametrize("kind", KINDS)
def test_committed_manifests_are_fresh(kind):
    committed = (JOBS / kind / "rayjob.yaml").read_text()
    assert committed == to_yaml(rendered(kind)), (
        f"regenerate: k2think train {kind} --config training-jobs/{kind}/config.yaml --emit"
    )


@pytest.mark.parametrize("kind", KINDS)
def test_entrypoints_call_the_launcher(kind):
    text = (JOBS / kind / "entrypoint.py").read_text()
    assert "from k2core.training.launch import main" in text and f'main(["{kind}"' in text
