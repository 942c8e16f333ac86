package jlisa.gpu;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import java.io.PrintWriter;

import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;
import org.junit.platform.launcher.listeners.TestExecutionSummary;

/**
 * Runs {@link CudaDeviceTest} and {@link CudaResidentTest} without Maven, for {@code gpu/device-check.sh} on a GPU machine that has no
 * build tools: one line per test, then JUnit's summary. Exit code 0 only when every test ran and passed (a
 * skipped test means no GPU was found, which on that machine is a failure).
 */
public final class DeviceTests {
    private DeviceTests() {}

    public static void main(String[] args) {
        LauncherDiscoveryRequest request = LauncherDiscoveryRequestBuilder.request().selectors(selectClass(CudaDeviceTest.class), selectClass(CudaResidentTest.class))
                .build();
        Launcher launcher = LauncherFactory.create();
        SummaryGeneratingListener summary = new SummaryGeneratingListener();
        TestExecutionListener lines = new TestExecutionListener() {
            @Override public void executionFinished(TestIdentifier test, TestExecutionResult result) {
                if (!test.isTest()) return;
                String outcome = switch (result.getStatus()) {
                    case SUCCESSFUL -> "PASS";
                    case ABORTED -> "SKIP";
                    case FAILED -> "FAIL";
                };
                System.out.println(outcome + " " + test.getDisplayName()
                        + result.getThrowable().map(t -> ": " + t.getMessage().replace('\n', ' ')).orElse(""));
            }

            @Override public void executionSkipped(TestIdentifier test, String reason) {
                System.out.println("SKIP " + test.getDisplayName() + ": " + reason);
            }
        };
        launcher.execute(request, summary, lines);
        TestExecutionSummary s = summary.getSummary();
        PrintWriter out = new PrintWriter(System.out, true);
        s.printTo(out);
        s.printFailuresTo(out, 30);
        boolean ok = s.getTotalFailureCount() == 0 && s.getTestsAbortedCount() == 0 && s.getTestsSkippedCount() == 0
                && s.getTestsSucceededCount() > 0;
        System.out.println(ok ? "DEVICE TESTS PASSED" : "DEVICE TESTS FAILED");
        System.exit(ok ? 0 : 1);
    }
}
