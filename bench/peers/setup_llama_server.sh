#!/usr/bin/env bash
# Build llama.cpp's own C++ server (llama-server) from the source distribution of the llama-cpp-python release
# the project pins, so the peer runs the very llama.cpp the embedded engine links. Idempotent: the binary lands
# in bench/peers/.llama-server/<version>/bin/llama-server and is reused. Offline: no web UI download, no HTTPS.
# LLAMA_SERVER_JOBS sets the compiler's parallelism (default: all cores). Prints the binary's path.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python="${PYTHON:-$here/../../.venv/bin/python}"
version="${LLAMA_CPP_PYTHON_VERSION:-$("$python" -c 'import importlib.metadata as m; print(m.version("llama-cpp-python"))')}"
root="${LLAMA_SERVER_DIR:-$here/.llama-server}/$version"
binary="$root/bin/llama-server"
if [ ! -x "$binary" ]; then
  mkdir -p "$root"
  if [ ! -d "$root/src" ]; then
    # pip (not uv) can fetch a source distribution without building it; it honours $PIP_FIND_LINKS.
    python3 -m pip download --quiet --no-deps --no-binary llama-cpp-python --dest "$root/sdist" "llama-cpp-python==$version"
    mkdir -p "$root/src"
    tar -xzf "$root"/sdist/llama_cpp_python-"$version".tar.gz -C "$root/src" --strip-components=1
  fi
  cmake -S "$root/src/vendor/llama.cpp" -B "$root/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
    -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_UI=OFF \
    -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF > "$root/cmake.log"
  cmake --build "$root/build" --target llama-server -j "${LLAMA_SERVER_JOBS:-$(nproc)}" > "$root/build.log"
  mkdir -p "$root/bin"
  cp "$root/build/bin/llama-server" "$binary"
fi
echo "$binary"
