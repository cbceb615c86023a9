#!/usr/bin/env bash
# Make optillm's own virtualenv (never the project's): bench/peers/.venv-optillm, idempotent.
# optillm pulls torch, bitsandbytes and gradio unpinned: torch is pinned to the project's 2.13.0 and found via
# $PIP_FIND_LINKS like every other install here. Prints the venv's optillm executable.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${OPTILLM_VENV:-$here/.venv-optillm}"
uv="${UV:-$here/../../.venv/bin/uv}"
version="${OPTILLM_VERSION:-0.4.0}"
if [ ! -x "$venv/bin/optillm" ]; then
  "$uv" venv --quiet --python "$(command -v python3.11 || command -v python3)" "$venv"
  find_links=()
  if [ -n "${PIP_FIND_LINKS:-}" ]; then find_links=(--find-links "$PIP_FIND_LINKS"); fi
  "$uv" pip install --quiet --python "$venv/bin/python" "${find_links[@]}" "optillm==$version" "torch==2.13.0"
fi
echo "$venv/bin/optillm"
