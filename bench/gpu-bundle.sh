#!/usr/bin/env bash
# Makes target/gpu-bundle, for checking the CUDA backend on a GPU machine that has neither a JDK nor Maven (a bare
# CUDA image): a JDK runtime trimmed by jlink (xz), the project's jars and test classes with their dependencies, the
# tiny golden model's test resources (xz), and check.sh (bench/gpu-bundle-check.sh) to run there. About 65 MB.
# Needs here: JDK 22+ with jlink (JAVA_HOME), Maven, xz; MAVEN_OFFLINE=1 adds -o. Then copy the folder to the GPU
# machine and run its check.sh there. Usage: bench/gpu-bundle.sh
set -euo pipefail
cd "$(dirname "$0")/.."
java_home=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
out=target/gpu-bundle
mvn_flags=(-B -ntp -q)
if [[ -n "${MAVEN_OFFLINE:-}" ]]; then
    mvn_flags+=(-o)
fi
rm -rf "$out"
mkdir -p "$out/lib"
# Main and test classes of every module core needs, and their dependencies but oneDNN (the CUDA path never loads it).
# One invocation, so the reactor resolves the sibling modules' jars without an install.
mvn "${mvn_flags[@]}" -pl core,bench -am package -DskipTests dependency:copy-dependencies -DincludeScope=test \
    -DexcludeArtifactIds=dnnl,jmh-core,jmh-generator-annprocess,jopt-simple,commons-math3 \
    -DoutputDirectory="$PWD/$out/lib"
cp bench/target/florence2j-bench-*.jar "$out/lib/"
"$java_home/bin/jar" --create --file "$out/lib/kernels-tests.jar" -C kernels/target/test-classes .
# The CUDA backend's test classes, listed here: a bare GPU image may have no unzip.
(cd kernels/target/test-classes && ls org/florence2j/backend/cuda/*Test.class) | sed 's/\.class$//; s#/#.#g' \
    > "$out/kernel-tests.txt"
"$java_home/bin/jar" --create --file "$out/lib/core-tests.jar" -C core/target/test-classes org \
    -C core/target/test-classes META-INF

# The modules the jars use (jdeps) without AWT's font, window and sound libraries, debug symbols stripped: ~19 MB
# once compressed.
runtime=$(mktemp -d)/jdk
modules=java.base,java.desktop,java.logging,jdk.management,jdk.unsupported,jdk.incubator.vector
unused=libfontmanager,libfreetype,libawt_xawt,libsplashscreen,libjsound,libjawt
"$java_home/bin/jlink" --add-modules "$modules" --strip-debug --no-header-files --no-man-pages --compress=zip-0 \
    --exclude-files="$(sed -E 's#([^,]+)#**/\1.so#g' <<< "$unused")" --output "$runtime" 2>/dev/null
if command -v strip >/dev/null; then
    strip --strip-unneeded "$runtime"/lib/server/libjvm.so "$runtime"/lib/*.so
fi
tar -C "$(dirname "$runtime")" -cf - jdk | xz -T0 -9 > "$out/jdk.tar.xz"
rm -rf "$(dirname "$runtime")"

# The tiny golden model and cases, the images and configs; not the other checkpoints and ported cases (CPU tests).
tar -C core/src/test/resources --exclude='golden/tiny-bin' --exclude='golden/tiny-native' --exclude='ported*' \
    -cf - . | xz -T0 -6 > "$out/resources.tar.xz"
cp bench/gpu-bundle-check.sh "$out/check.sh"
echo "gpu-bundle: $out, $(du -sh "$out" | cut -f1); run $out/check.sh on the GPU machine"
