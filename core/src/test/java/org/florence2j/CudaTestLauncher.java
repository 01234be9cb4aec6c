package org.florence2j;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.engine.discovery.DiscoverySelectors;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;

/**
 * Runs test classes without Maven, for a GPU machine that has neither Maven nor the project's build
 * ({@code bench/gpu-bundle.sh} makes the folder this runs from): prints a line per test, {@code PASS}, {@code FAIL}
 * with its stack or {@code ABORT} with the reason, then a summary. With {@code -Dflorence2j.test.only=REGEX} only
 * tests whose class, method or display name matches run ({@link TestNameCondition}), e.g. {@code (?i)cuda} for the
 * CUDA cases of the parameterized golden tests. Exits 1 when a test failed or aborted, or none ran: on a GPU
 * machine a CUDA test that aborts ("CUDA unavailable") is a failure.
 *
 * <pre>
 * java -Dflorence2j.test.only='(?i)cuda' -cp ... org.florence2j.CudaTestLauncher org.florence2j.generate.GenerationGoldenTest ...
 * </pre>
 */
public final class CudaTestLauncher {
    private static final int STACK_LINES = 14;

    private CudaTestLauncher() {}

    public static void main(String[] classNames) {
        LauncherDiscoveryRequest request = LauncherDiscoveryRequestBuilder.request()
                .selectors(Arrays.stream(classNames).map(DiscoverySelectors::selectClass).toList())
                .configurationParameter("junit.jupiter.extensions.autodetection.enabled", "true").build();
        Counts counts = new Counts();
        LauncherFactory.create().execute(request, counts);
        System.out.printf("SUMMARY passed %d failed %d aborted %d%n", counts.passed.get(), counts.failed.get(),
                counts.aborted.get());
        System.exit(counts.failed.get() == 0 && counts.aborted.get() == 0 && counts.passed.get() > 0 ? 0 : 1);
    }

    /** Prints each test's outcome as it finishes and counts them. */
    private static final class Counts implements TestExecutionListener {
        final AtomicInteger passed = new AtomicInteger();
        final AtomicInteger failed = new AtomicInteger();
        final AtomicInteger aborted = new AtomicInteger();

        @Override
        public void executionFinished(TestIdentifier test, TestExecutionResult result) {
            String name = test.getLegacyReportingName() + " [" + test.getUniqueId().replaceAll(".*\\[class:", "")
                    .replaceAll("].*", "") + "]";
            switch (result.getStatus()) {
                case SUCCESSFUL -> {
                    if (test.isTest()) {
                        passed.incrementAndGet();
                        System.out.println("PASS  " + name);
                    }
                }
                case ABORTED -> {
                    aborted.incrementAndGet();
                    System.out.println("ABORT " + name + ": " + result.getThrowable().map(Throwable::getMessage)
                            .orElse(""));
                }
                case FAILED -> {
                    failed.incrementAndGet();
                    System.out.println("FAIL  " + name + ": " + result.getThrowable().map(CudaTestLauncher::stack)
                            .orElse(""));
                }
            }
            System.out.flush();
        }
    }

    private static String stack(Throwable thrown) {
        StringWriter text = new StringWriter();
        thrown.printStackTrace(new PrintWriter(text));
        return String.join("\n", text.toString().lines().limit(STACK_LINES).toList());
    }
}
