#!/usr/bin/env bash
# Build a k2think image with podman: `docker/build.sh [k2think|k2think-gpu|k2think-train]` (what `make image` runs).
#
# BASE_IMAGE   a Debian-based Python 3.11 image (e.g. python:3.11-slim where a registry can be reached); by
#              default a Debian bookworm base made here with mmdebstrap and `podman import`ed as
#              localhost/k2think-base:bookworm (python3, venv, python-is-python3, CA certificates).
# IMAGE_TAG    tag of the built image (default: the version in pyproject.toml).
# PODMAN       the podman command (default: podman as root with runc and cgroupfs, which work in containers).
# PIP_CERT     a CA bundle the build's pip should trust (a registry behind a TLS-inspecting proxy).
# QUANTISATIONS  embedded model variants baked into k2think besides the shipped q4_k_m (e.g. "q4_0 q8_0").
# TORCH        cuda (default): k2think-gpu/-train get PyPI's CUDA torch. cpu: they get the CPU build of the same
#              version from a wheel in PIP_FIND_LINKS (a machine without a GPU or CUDA wheels), tagged <tag>-cpu;
#              everything else installs and imports (torchvision/-audio/-codec, CUDA builds on PyPI, are left
#              out), nothing CUDA runs.
# A llama-cpp-python wheel already built by uv on this machine is offered to the build (PIP_FIND_LINKS), so
# llama.cpp is not compiled twice; without one the image compiles it.
set -euo pipefail

name=${1:-k2think}
case "$name" in
  k2think) dockerfile=docker/Dockerfile ;;
  k2think-gpu) dockerfile=docker/Dockerfile.gpu ;;
  k2think-train) dockerfile=docker/Dockerfile.train ;;
  *) echo "unknown image $name (k2think, k2think-gpu, k2think-train)" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
PODMAN=${PODMAN:-podman --runtime runc --cgroup-manager=cgroupfs}
tag=${IMAGE_TAG:-$(python3 -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')}
base=${BASE_IMAGE:-localhost/k2think-base:bookworm}

if [[ -z "${BASE_IMAGE:-}" ]] && ! $PODMAN image exists "$base"; then
  echo "making $base with mmdebstrap" >&2
  mmdebstrap --variant=minbase --include=python3,python3-venv,python-is-python3,ca-certificates \
    bookworm - | $PODMAN import --change 'CMD ["python"]' - "$base"
fi

wheels=build/image-wheels
mkdir -p "$wheels"
find "${UV_CACHE_DIR:-$HOME/.cache/uv}" -name 'llama_cpp_python-*.whl' -exec cp -u {} "$wheels/" \; 2>/dev/null || true

# The registry's CA as this machine trusts it (PIP_CERT), for builds behind a TLS-inspecting proxy.
cert=()
if [[ -n "${PIP_CERT:-}" ]]; then
  cert=(--volume "$(realpath "$PIP_CERT"):/etc/k2think-build-ca.crt:ro" --build-arg PIP_CERT=/etc/k2think-build-ca.crt)
fi

# The GPU and training images resolve hundreds of packages with uv: a cache kept under build/ serves both builds.
torch=()
if [[ "$name" != k2think ]]; then
  mkdir -p build/uv-cache
  torch=(--volume "$PWD/build/uv-cache:/uv-cache" --build-arg UV_CACHE_DIR=/uv-cache)
  version=$(grep -o '"torch==[^"]*"' pyproject.toml | head -1 | tr -d '"' | cut -d= -f3)
  case "${TORCH:-cuda}" in
    cuda) ;;
    cpu)
      wheel=
      # shellcheck disable=SC2086  # PIP_FIND_LINKS may name several folders
      [[ -n "${PIP_FIND_LINKS:-}" ]] &&
        wheel=$(find $PIP_FIND_LINKS -maxdepth 1 -name "torch-$version+cpu-*.whl" 2>/dev/null | head -1)
      [[ -n "$wheel" ]] || { echo "TORCH=cpu needs torch-$version+cpu-*.whl in PIP_FIND_LINKS" >&2; exit 2; }
      torch+=(--volume "$(dirname "$(realpath "$wheel")"):/torch-wheels:ro" --build-arg TORCH_FIND_LINKS=/torch-wheels
        --build-arg TORCH_LOCAL=+cpu)
      tag="$tag-cpu" ;;
    *) echo "TORCH is cuda or cpu, not $TORCH" >&2; exit 2 ;;
  esac
  torch+=(--build-arg TORCH_VERSION="$version")
fi

$PODMAN build --network host --ulimit nofile=16384:16384 --ulimit nproc=4096:4096 \
  --volume "$PWD/$wheels:/wheels:ro" --build-arg PIP_FIND_LINKS=/wheels "${cert[@]}" "${torch[@]}" \
  --build-arg QUANTISATIONS="${QUANTISATIONS:-}" --build-arg BASE_IMAGE="$base" -f "$dockerfile" \
  -t "localhost/$name:$tag" .
$PODMAN image inspect --format '{{.Size}}' "localhost/$name:$tag" |
  awk -v img="localhost/$name:$tag" '{printf "%s: %.0f MB\n", img, $1 / 1e6}'
