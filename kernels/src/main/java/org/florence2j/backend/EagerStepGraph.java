package org.florence2j.backend;

/** {@link StepGraph#eager()}: runs the ops as they are issued; nothing to capture, reset or free. */
enum EagerStepGraph implements StepGraph {
    INSTANCE;

    @Override
    public void run(int variant, Runnable ops) {
        StepGraph.checkVariant(variant);
        ops.run();
    }

    @Override
    public void reset() {}

    @Override
    public void close() {}
}
