#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: compile-check the CUDA kernels with nvcc, build, and run the CUDA backend tests
# (which must not skip here). Finishes well under 8 minutes. Usage: bench/gpu-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS

if [[ -z "${JAVA_HOME:-}" || ! -x "$JAVA_HOME/bin/java" ]]; then
    for candidate in /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/java-25-openjdk-amd64 /usr/lib/jvm/*25*; do
        if [[ -x "$candidate/bin/java" ]]; then
            export JAVA_HOME="$candidate"
            break
        fi
    done
fi
echo "== JAVA_HOME=${JAVA_HOME:-unset}"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || echo "nvidia-smi unavailable"

echo "== nvcc PTX check"
native/check-ptx.sh sm_80 sm_90

echo "== CUDA backend tests"
timeout 420 mvn -B -ntp -q -pl kernels -am test -Dtest='Cuda*' -Dsurefire.failIfNoSpecifiedTests=false
reports=kernels/target/surefire-reports
skipped=$(grep -ho 'skipped="[0-9]*"' "$reports"/TEST-*Cuda*.xml | grep -o '[0-9]*' | paste -sd+ | bc)
grep -h -o 'tests="[0-9]*" errors="[0-9]*" skipped="[0-9]*" failures="[0-9]*"' "$reports"/TEST-*Cuda*.xml
if [[ "$skipped" != "0" ]]; then
    echo "FAIL: $skipped CUDA test(s) skipped on a GPU machine:"
    grep -h -o 'CUDA unavailable[^<]*' "$reports"/TEST-*Cuda*.xml | head -3 | cut -c1-600
    exit 1
fi
echo "== done in $((SECONDS - started)) s"
