#!/usr/bin/env bash
# Build check: compiles every native/cuda/*.cu to PTX with nvcc, as NVRTC will at run time (common.cuh prepended).
# Prints a skip message and exits 0 where nvcc is absent. Usage: native/check-ptx.sh [sm_90 sm_80 ...]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
nvcc="${NVCC:-$(command -v nvcc || true)}"
if [[ -z "$nvcc" ]]; then
    echo "check-ptx: nvcc not found on PATH; skipping the CUDA kernel compile check"
    exit 0
fi
archs=("$@")
if [[ ${#archs[@]} -eq 0 ]]; then
    archs=(sm_80 sm_90)
fi
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
status=0
for source in "$here"/cuda/*.cu; do
    for arch in "${archs[@]}"; do
        if "$nvcc" --ptx -arch="$arch" -include "$here/cuda/common.cuh" -o "$out/$(basename "$source" .cu).ptx" \
                "$source"; then
            echo "check-ptx: ok   $(basename "$source") $arch"
        else
            echo "check-ptx: FAIL $(basename "$source") $arch"
            status=1
        fi
    done
done
exit $status
