#!/usr/bin/env bash
# On a machine with an NVIDIA GPU (JDK 25, Maven with its dependencies cached): compile-check the CUDA kernels
# with nvcc, build, run the CUDA backend tests and the model golden tests on CUDA (none may skip there), then the
# GPU benchmark and print its tables: the two convolution paths (cuDNN against im2col plus cuBLAS, ms per call at
# Florence-2-base's DaViT shapes; a few seconds), then Florence-2-base and -large with random weights (convolutions
# on the default path, -Dflorence2j.cuda.conv=auto: cuDNN for the 7x7 stem where it loads). The whole script stops
# itself after 8 minutes (GPU_CHECK_LIMIT_S, default 470 s); each step gets what is left. MAVEN_OFFLINE=1 adds -o
# for a machine without network whose ~/.m2 already holds the dependencies. Usage: bench/gpu-check.sh
set -euo pipefail
limit_s=${GPU_CHECK_LIMIT_S:-470}
if [[ -z "${GPU_CHECK_BOUNDED:-}" ]]; then
    GPU_CHECK_BOUNDED=1 exec timeout --kill-after=10 "$limit_s" "$0" "$@"
fi
cd "$(dirname "$0")/.."
started=$SECONDS
remaining() {
    local left=$((limit_s - 5 - (SECONDS - started)))
    echo $((left > 1 ? left : 1))
}
mvn_flags=(-B -ntp -q)
if [[ -n "${MAVEN_OFFLINE:-}" ]]; then
    mvn_flags+=(-o)
fi

if [[ -z "${JAVA_HOME:-}" || ! -x "$JAVA_HOME/bin/java" ]]; then
    for candidate in /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/java-25-openjdk-amd64 /usr/lib/jvm/*25*; do
        if [[ -x "$candidate/bin/java" ]]; then
            export JAVA_HOME="$candidate"
            break
        fi
    done
fi
echo "== JAVA_HOME=${JAVA_HOME:-unset}; stopping after ${limit_s} s"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || echo "nvidia-smi unavailable"

echo "== nvcc PTX check"
native/check-ptx.sh sm_80 sm_90

# Kernel tests against ReferenceBackend, then the model goldens (each class also runs its CPU cases).
model_tests=BartEncoderTest,BartDecoderTest,BatchGenerationTest,GenerationGoldenTest,Florence2ModelTest
model_tests+=,VisionGoldenTest,HalfPrecisionGoldenTest,Florence2GoldenTest,Florence2CudaMemoryTest,Bf16ModeTest
model_tests+=,Florence2CudaCancellationTest,VisionPassTest,Florence2PositionsTest
echo "== CUDA backend tests and model golden tests on CUDA"
tests_status=0
timeout "$(remaining)" mvn "${mvn_flags[@]}" -pl core -am test -Dtest="Cuda*,$model_tests" \
    -Dsurefire.failIfNoSpecifiedTests=false || tests_status=$?
reports=(kernels/target/surefire-reports/TEST-*Cuda*.xml)
for name in ${model_tests//,/ }; do
    reports+=(core/target/surefire-reports/TEST-*."$name".xml)
done
skipped=0
for report in "${reports[@]}"; do
    if [[ ! -f "$report" ]]; then
        echo "missing report: $report"
        tests_status=1
        continue
    fi
    counts=$(grep -o -m1 'tests="[0-9]*" errors="[0-9]*" skipped="[0-9]*" failures="[0-9]*"' "$report")
    printf '%-62s %s\n' "$(basename "$report" .xml | sed 's/^TEST-org.florence2j.//')" "$counts"
    skipped=$((skipped + $(grep -o -m1 'skipped="[0-9]*"' "$report" | grep -o '[0-9]*')))
done
if [[ "$skipped" != "0" ]]; then
    echo "FAIL: $skipped CUDA test(s) skipped on a GPU machine:"
    grep -h -o 'CUDA unavailable[^<]*' "${reports[@]}" 2>/dev/null | sort -u | head -3 | cut -c1-600 || true
    tests_status=1
fi
echo "== tests: status $tests_status after $((SECONDS - started)) s"

echo "== GPU benchmark (random weights; checkpoints written once to /tmp/florence2j-bench)"
bench_status=0
timeout "$(remaining)" mvn "${mvn_flags[@]}" -pl bench -am package -DskipTests || bench_status=$?
if [[ "$bench_status" == "0" ]]; then
    timeout "$(remaining)" "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED \
        --add-modules jdk.incubator.vector -cp bench/target/benchmarks.jar org.florence2j.bench.e2e.GpuBench \
        --device cuda:0 --models base,large --runs 3 --caption-tokens 20 --od-tokens 1024 --conv-runs 20 \
        || bench_status=$?
fi
echo "== done in $((SECONDS - started)) s: tests status $tests_status, benchmark status $bench_status"
if [[ "$tests_status" != "0" || "$bench_status" != "0" ]]; then
    exit 1
fi
