package org.florence2j;

import java.util.regex.Pattern;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Where {@code -Dflorence2j.test.only=REGEX} is set, disables each test (each invocation of a parameterized one)
 * whose class name, method name and display name all miss it; without the property it disables nothing. Registered
 * through {@code META-INF/services} for {@link CudaTestLauncher}, which turns on extension autodetection (Maven's
 * test runs leave it off, so this never loads there).
 */
public final class TestNameCondition implements ExecutionCondition {
    static final String PROPERTY = "florence2j.test.only";

    @Override
    public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
        String only = System.getProperty(PROPERTY);
        String id = context.getUniqueId();
        // A parameterized method is a container of invocations: decide per invocation, by its display name.
        boolean template = id.substring(id.lastIndexOf("/[") + 2).startsWith("test-template:");
        if (only == null || context.getTestMethod().isEmpty() || template) {
            return ConditionEvaluationResult.enabled("no name filter here");
        }
        String names = context.getRequiredTestClass().getSimpleName() + " " + context.getRequiredTestMethod().getName()
                + " " + context.getDisplayName();
        return Pattern.compile(only).matcher(names).find() ? ConditionEvaluationResult.enabled("matches " + only)
                : ConditionEvaluationResult.disabled("does not match " + only);
    }
}
