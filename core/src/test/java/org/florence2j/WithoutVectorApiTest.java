package org.florence2j;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.florence2j.backend.cpu.CpuBackend;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * Runs only in core's surefire execution {@code without-vector-api}, a JVM started without
 * {@code jdk.incubator.vector}, beside {@link Florence2GoldenTest} and {@code Bf16ModeTest}: checks that the module
 * is really absent there, so that those tests load and run models through the CPU backend's scalar top-k and
 * oneDNN's small ops, as the {@code florence2} launcher and a library user without the module do. That execution
 * sets {@code florence2j.test.withoutVectorApi}; elsewhere (a {@code -Dtest} selection reaches every execution) the
 * test is skipped.
 */
@EnabledIfSystemProperty(named = "florence2j.test.withoutVectorApi", matches = "true",
        disabledReason = "runs in core's without-vector-api surefire execution only")
class WithoutVectorApiTest {
    @Test
    void thisJvmHasNoVectorApi() {
        assertTrue(ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty(), "the module is resolved");
        assertFalse(CpuBackend.vectorApiAvailable(), "CpuBackend sees the Vector API");
    }
}
