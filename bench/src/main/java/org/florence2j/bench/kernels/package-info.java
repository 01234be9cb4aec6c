/**
 * JMH benchmarks of single {@link org.florence2j.backend.Backend} kernels at Florence-2-base shapes.
 *
 * <p>Build and run (from the repository root, JDK 22+):
 * <pre>
 * mvn -B -ntp -pl bench -am package -DskipTests
 * java -jar bench/target/benchmarks.jar 'org.florence2j.bench.kernels'            # full settings
 * java -jar bench/target/benchmarks.jar 'org.florence2j.bench.kernels' -f1 -wi 2 -i 3 -w 1s -r 1s   # quick pass
 * </pre>
 * The jar's manifest enables native access and the Vector API; {@code OMP_NUM_THREADS} bounds oneDNN's threads.
 */
package org.florence2j.bench.kernels;
