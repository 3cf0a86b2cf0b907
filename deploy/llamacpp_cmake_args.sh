#!/bin/sh
# CMAKE_ARGS for building llama-cpp-python (the default generator engine) on the CPU this runs on.
# Printed on stdout; used by the Makefile's setup and deploy/Dockerfile. Why these flags
# (docs/generator-engines.md, Build):
# - GGML_NATIVE=OFF plus the instruction sets this CPU has, listed one by one, AMX included: the AMX
#   kernels need a patch, which deploy/build_llamacpp.sh applies (it builds without them otherwise);
# - GGML_OPENMP=OFF: OpenMP threads obey OMP_WAIT_POLICY=PASSIVE (set for torch) and decode ~3x slower;
# - LLAVA_BUILD=OFF: the multimodal library is never used.
# A binary built here runs on CPUs with the same instruction sets or more (an image: build it on the
# oldest node kind, or pass LLAMACPP_CMAKE_ARGS).
flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true)
has() { case " $flags " in *" $1 "*) echo ON ;; *) echo OFF ;; esac; }
echo "-DLLAVA_BUILD=OFF -DGGML_OPENMP=OFF -DGGML_NATIVE=OFF" \
  "-DGGML_AVX=$(has avx) -DGGML_AVX2=$(has avx2) -DGGML_FMA=$(has fma) -DGGML_F16C=$(has f16c)" \
  "-DGGML_AVX512=$(has avx512f) -DGGML_AVX512_VBMI=$(has avx512vbmi) -DGGML_AVX512_VNNI=$(has avx512_vnni)" \
  "-DGGML_AVX512_BF16=$(has avx512_bf16) -DGGML_AVX_VNNI=$(has avx_vnni)" \
  "-DGGML_AMX_TILE=$(has amx_tile) -DGGML_AMX_INT8=$(has amx_int8) -DGGML_AMX_BF16=$(has amx_bf16)"
