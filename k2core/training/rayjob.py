"""KubeRay manifests for a training job: the shared ReadWriteMany volume, a ConfigMap holding the job file (and its
entrypoint) and a ``ray.io/v1`` RayJob whose head runs the entrypoint on a RayCluster with GPU worker groups,
admitted by a Kueue queue, bounded by a deadline and torn down when it ends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from k2core.training.config import ClusterConfig, TrainConfig, WorkerGroupConfig

CONFIG_MOUNT = "/etc/k2think/train"
CONFIG_FILE = "config.yaml"
ENTRYPOINT_FILE = "entrypoint.py"
SHARED_VOLUME = "shared"
QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
_RUNTIME_ENV = {"TOKENIZERS_PARALLELISM": "true", "NCCL_DEBUG": "WARN", "VERL_LOGGING_LEVEL": "WARN"}


def entrypoint_command(kind: str, with_script: bool) -> str:
    """What the Ray job runs: the mounted thin entrypoint when shipped, else the k2core launcher module."""
    config = f"{CONFIG_MOUNT}/{CONFIG_FILE}"
    if with_script:
        return f"python {CONFIG_MOUNT}/{ENTRYPOINT_FILE} --config {config}"
    return f"python -m k2core.training.launch {kind} --config {config}"


def config_map(config: TrainConfig, config_text: str, entrypoint_text: str | None) -> dict[str, Any]:
    """The ConfigMap mounted on every pod at ``CONFIG_MOUNT``."""
    data = {CONFIG_FILE: config_text}
    if entrypoint_text is not None:
        data[ENTRYPOINT_FILE] = entrypoint_text
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"{config.name}-config", "namespace": config.cluster.namespace, "labels": _labels(config)},
        "data": data,
    }


def _labels(config: TrainConfig) -> dict[str, str]:
    return {"app.kubernetes.io/name": "k2think", "app.kubernetes.io/component": f"train-{config.kind}"}


def volume_claim(config: TrainConfig) -> dict[str, Any]:
    """The PersistentVolumeClaim every step shares: ReadWriteMany, so head and workers on any node mount it."""
    volume = config.cluster.volume
    assert volume is not None
    spec: dict[str, Any] = {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": volume.size}}}
    if volume.storage_class:
        spec["storageClassName"] = volume.storage_class
    labels = {"app.kubernetes.io/name": "k2think", "app.kubernetes.io/component": "train-volume"}
    meta = {"name": volume.claim, "namespace": config.cluster.namespace, "labels": labels}
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta, "spec": spec}


def _volumes(config: TrainConfig, shm: str | None) -> tuple[list[dict], list[dict]]:
    """Pod volumes and container mounts: the job file, the shared RWX volume and, on GPU pods, a big /dev/shm."""
    volumes: list[dict[str, Any]] = [{"name": "job-config", "configMap": {"name": f"{config.name}-config"}}]
    mounts: list[dict[str, Any]] = [{"name": "job-config", "mountPath": CONFIG_MOUNT, "readOnly": True}]
    if config.cluster.volume:
        volumes.append({"name": SHARED_VOLUME, "persistentVolumeClaim": {"claimName": config.cluster.volume.claim}})
        mounts.append({"name": SHARED_VOLUME, "mountPath": config.cluster.mount_path})
    if shm:
        volumes.append({"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": shm}})
        mounts.append({"name": "dshm", "mountPath": "/dev/shm"})
    return volumes, mounts


def _pod(config: TrainConfig, name: str, resources: dict[str, Any], shm: str | None, ports: list[dict]) -> dict:
    cluster = config.cluster
    volumes, mounts = _volumes(config, shm)
    container: dict[str, Any] = {
        "name": name,
        "image": cluster.image.ref,
        "resources": {"requests": resources, "limits": resources},
        "volumeMounts": mounts,
        "securityContext": {"allowPrivilegeEscalation": False},
    }
    if ports:
        container["ports"] = ports
    security = {"runAsNonRoot": True, "runAsUser": cluster.run_as_user, "runAsGroup": cluster.fs_group,
                "fsGroup": cluster.fs_group}  # fmt: skip
    spec: dict[str, Any] = {"containers": [container], "volumes": volumes, "securityContext": security}
    if cluster.service_account:
        spec["serviceAccountName"] = cluster.service_account
    if shm:
        spec["tolerations"] = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    return {"metadata": {"labels": _labels(config)}, "spec": spec}


def _head(config: TrainConfig) -> dict[str, Any]:
    head = config.cluster.head
    ports = [
        {"containerPort": 6379, "name": "gcs-server"},
        {"containerPort": 8265, "name": "dashboard"},
        {"containerPort": 10001, "name": "client"},
    ]
    return {
        "rayStartParams": {"dashboard-host": "0.0.0.0", "num-gpus": "0"},
        "template": _pod(config, "ray-head", {"cpu": head.cpu, "memory": head.memory}, None, ports),
    }


def _worker_group(config: TrainConfig, group: WorkerGroupConfig) -> dict[str, Any]:
    resources = {"cpu": group.cpu, "memory": group.memory, "nvidia.com/gpu": group.gpus}
    return {
        "groupName": group.name,
        "replicas": group.replicas,
        "minReplicas": group.replicas,
        "maxReplicas": group.replicas,
        "rayStartParams": {},
        "template": _pod(config, "ray-worker", resources, group.shm, []),
    }


def _runtime_env(cluster: ClusterConfig) -> str:
    return yaml.safe_dump({"env_vars": {**_RUNTIME_ENV, **cluster.env}}, sort_keys=True)


def ray_job(config: TrainConfig, with_script: bool) -> dict[str, Any]:
    """The RayJob: the entrypoint, a RayCluster (head + GPU workers) torn down when the job ends, retries."""
    cluster = config.cluster
    spec: dict[str, Any] = {
        "entrypoint": entrypoint_command(config.kind, with_script),
        "runtimeEnvYAML": _runtime_env(cluster),
        "shutdownAfterJobFinishes": True,
        "ttlSecondsAfterFinished": cluster.ttl_seconds_after_finished,
        "backoffLimit": cluster.backoff_limit,
        "submissionMode": "K8sJobMode",
        "rayClusterSpec": {
            "rayVersion": cluster.ray_version,
            "headGroupSpec": _head(config),
            "workerGroupSpecs": [_worker_group(config, g) for g in cluster.workers],
        },
    }
    if cluster.active_deadline_seconds is not None:
        spec["activeDeadlineSeconds"] = cluster.active_deadline_seconds
    labels = _labels(config) | ({QUEUE_LABEL: cluster.queue} if cluster.queue else {})
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayJob",
        "metadata": {"name": config.name, "namespace": cluster.namespace, "labels": labels},
        "spec": spec,
    }


def manifests(config: TrainConfig, config_text: str, entrypoint_text: str | None = None) -> list[dict[str, Any]]:
    """The volume claim (when the job creates it), the ConfigMap, then the RayJob, in apply order."""
    volume = config.cluster.volume
    claim = [volume_claim(config)] if volume and volume.create else []
    return [*claim, config_map(config, config_text, entrypoint_text), ray_job(config, entrypoint_text is not None)]


def manifests_for_file(config: TrainConfig, config_path: Path) -> list[dict[str, Any]]:
    """Manifests for a job file on disk; an ``entrypoint.py`` beside it is shipped and run."""
    script = config_path.parent / ENTRYPOINT_FILE
    entrypoint_text = script.read_text(encoding="utf-8") if script.is_file() else None
    return manifests(config, config_path.read_text(encoding="utf-8"), entrypoint_text)


class _BlockDumper(yaml.SafeDumper):
    """Writes multi-line strings (the job file, the entrypoint, the runtime env) as ``|`` blocks, no anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str)


def to_yaml(objects: list[dict[str, Any]]) -> str:
    """A multi-document YAML stream for ``kubectl apply -f -``."""
    return yaml.dump_all(objects, Dumper=_BlockDumper, sort_keys=False, default_flow_style=False)


def submit(objects: list[dict[str, Any]], field_manager: str = "k2think") -> list[str]:
    """Server-side apply each object in the current kubeconfig context (what ``kubectl apply`` does);
    returns ``kind/name`` of each."""
    from kubernetes import client, config, dynamic

    config.load_kube_config()
    api = dynamic.DynamicClient(client.ApiClient())
    applied = []
    for obj in objects:
        meta = obj["metadata"]
        resource = api.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
        resource.server_side_apply(
            body=obj, name=meta["name"], namespace=meta["namespace"], field_manager=field_manager, force_conflicts=True
        )
        applied.append(f"{obj['kind']}/{meta['name']}")
    return applied
