#!/bin/sh
# Build and install llama-cpp-python, the default generator engine, for the CPU this runs on.
#   sh deploy/build_llamacpp.sh [PIP]        PIP: the pip to install with (default: pip)
# Used by the Makefile's setup and deploy/Dockerfile. Flags: deploy/llamacpp_cmake_args.sh, or
# LLAMACPP_CMAKE_ARGS. Why (docs/generator-engines.md, Build):
# - On a CPU with AMX (Intel Xeon 4th generation and later), llama.cpp's AMX int8 kernels prefill
#   Q8_0 ~2.5x faster than its AVX-512 ones, but the released source crashes in them (SIGILL or
#   SIGSEGV in ggml_backend_amx_mul_mat): ggml_tile_config_init builds the tile configuration on the
#   stack, GCC drops the stores of its rows and columns as dead (ldtilecfg's read is invisible to it),
#   and ldtilecfg loads an empty configuration. deploy/patches/llama-cpp-amx-tilecfg.patch
#   keeps the configuration in static storage. The patched source is built as version
#   X.Y.Z+amx.tilecfg (which still satisfies llama-cpp-python==X.Y.Z) and its wheel is kept in pip's
#   cache folder, so the ~4 min build happens once per flags and patch.
# - When the AMX build fails, or on a CPU without AMX, the released source is built without AMX
#   kernels (pip caches that wheel itself).
set -eu
PIP=${1:-pip}
root=$(cd "$(dirname "$0")/.." && pwd)
spec=$(grep -o 'llama-cpp-python==[0-9.]*' "$root/pyproject.toml")
version=${spec#*==}
args=${LLAMACPP_CMAKE_ARGS:-$(sh "$root/deploy/llamacpp_cmake_args.sh")}
patch="$root/deploy/patches/llama-cpp-amx-tilecfg.patch"
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}"

stock() {  # the released source, without AMX kernels
  plain=$(printf '%s' "$args" | sed -e 's/-DGGML_AMX_[A-Z0-9]*=ON//g')  # off unless named
  CMAKE_ARGS="$plain" $PIP install -q "$spec"
}

case "$args" in
  *GGML_AMX_INT8=ON*) ;;
  *) stock; exit ;;
esac

key=$( (printf '%s\n%s\n' "$version" "$args"; cat "$patch") | sha256sum | cut -c1-16)
cache=$($PIP cache dir 2>/dev/null || true)
dest=${cache:+$cache/harbor-rag/llama-cpp/$key}
wheel=$(ls "${dest:-/nonexistent}"/*.whl 2>/dev/null | head -n 1 || true)
if [ -n "$wheel" ]; then
  echo "llama-cpp-python $version with AMX kernels: the wheel built earlier ($wheel)"
  $PIP install -q "$wheel"
  exit
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
build_amx() {
  $PIP download -q --no-deps --no-binary llama-cpp-python "$spec" -d "$work" &&
  tar xzf "$work/llama_cpp_python-$version.tar.gz" -C "$work" &&
  src="$work/llama_cpp_python-$version" &&
  (cd "$src" && git apply "$patch") &&
  sed -i "s/^__version__ = \"$version\"/__version__ = \"$version+amx.tilecfg\"/" "$src/llama_cpp/__init__.py" &&
  grep -q "+amx.tilecfg" "$src/llama_cpp/__init__.py" &&
  CMAKE_ARGS="$args" $PIP wheel -q --no-deps -w "$work/wheel" "$src"
}
echo "building llama-cpp-python $version with AMX kernels (patched) for this CPU..."
if build_amx; then
  wheel=$(ls "$work"/wheel/*.whl | head -n 1)
  if [ -n "$dest" ] && mkdir -p "$dest" && cp "$wheel" "$dest/"; then
    wheel="$dest/$(basename "$wheel")"
  fi
  $PIP install -q "$wheel"
else
  echo "the AMX build of llama-cpp-python failed; building it without AMX kernels" >&2
  stock
fi
