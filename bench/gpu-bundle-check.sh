#!/usr/bin/env bash
# Runs on a GPU machine from the folder bench/gpu-bundle.sh made (as its check.sh): unpacks the JDK and the test
# resources, prints the GPU and the CUDA libraries the loader knows, runs every CUDA backend test and the CUDA cases
# of the model golden tests (none may fail or abort there), then GpuBench with GPU_BENCH_ARGS (default: base, 3
# runs; empty skips it). Logs go to $OUT (default /tmp/florence2j-gpu). Exits 1 when a test failed or aborted.
# Usage: check.sh
set -uo pipefail
bundle=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/florence2j-gpu}
work=$(mktemp -d)
started=$SECONDS
log() { echo "== [$((SECONDS - started)) s] $*"; }
mkdir -p "$out" "$work/core/src/test/resources"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || echo "nvidia-smi unavailable"
tar -C "$work" -xJf "$bundle/jdk.tar.xz"
tar -C "$work/core/src/test/resources" -xJf "$bundle/resources.tar.xz"
java=$work/jdk/bin/java
ldconfig -p 2>/dev/null | grep -E "lib(cuda|cudart|cublas|cudnn|nvrtc)\.so\.[0-9]+ " | sed 's/^\s*//'
classpath=$(ls "$bundle"/lib/*.jar | tr '\n' ':')$work/core/src/test/resources
jvm=(--enable-native-access=ALL-UNNAMED --add-modules=jdk.incubator.vector -Xmx16g)
status=0

log "CUDA backend tests"
mapfile -t kernel_tests < "$bundle/kernel-tests.txt"
"$java" "${jvm[@]}" -cp "$classpath" org.florence2j.CudaTestLauncher "${kernel_tests[@]}" > "$out/kernels.log" 2>&1 \
    || status=1
grep -E "^(FAIL|ABORT|SUMMARY)" "$out/kernels.log" | cut -c1-400

log "model golden tests, CUDA cases"
model_tests=(model.text.BartEncoderTest model.text.BartDecoderTest model.vision.VisionGoldenTest
    model.Florence2ModelTest model.HalfPrecisionGoldenTest model.Bf16ModeTest generate.GenerationGoldenTest
    generate.BatchGenerationTest Florence2GoldenTest Florence2CudaMemoryTest Florence2CudaCancellationTest
    model.VisionPassTest Florence2PositionsTest)
# VisionGoldenTest reads src/test/resources relative to the module, as under Maven.
(cd "$work/core" && "$java" "${jvm[@]}" -Dflorence2j.test.only='(?i)cuda' -cp "$classpath" \
    org.florence2j.CudaTestLauncher "${model_tests[@]/#/org.florence2j.}") > "$out/core.log" 2>&1 || status=1
grep -E "^(FAIL|ABORT|SUMMARY)" "$out/core.log" | cut -c1-400

bench_args=${GPU_BENCH_ARGS-"--models base --runs 3"}
if [[ -n "$bench_args" ]]; then
    log "GpuBench $bench_args"
    # shellcheck disable=SC2086
    (cd "$work" && "$java" "${jvm[@]}" -cp "$classpath" org.florence2j.bench.e2e.GpuBench $bench_args) \
        > "$out/bench.log" 2>&1 || status=1
    grep -v "^WARNING: Using incubator" "$out/bench.log" | tail -20
fi
log "done, status $status; logs in $out"
exit $status
