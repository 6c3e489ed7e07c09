package phi2j.runtime.internal;

import org.junit.jupiter.api.Test;
import phi2j.runtime.ModelOptions;
import phi2j.runtime.Phi2Model;
import phi2j.testkit.TestModels;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** The runner's environment: huge pages allowed for malloc's large regions, unless the caller chose otherwise. */
class RunnerEnvironmentTest {
    @Test
    void theHugePageTunableIsAddedKeepingTheCallersTunablesAndTheirOwnChoice() {
        assertEquals("glibc.malloc.hugetlb=1", RunnerLauncher.tunables(null));
        assertEquals("glibc.malloc.hugetlb=1", RunnerLauncher.tunables(""));
        assertEquals("glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1", RunnerLauncher.tunables("glibc.malloc.arena_max=2"));
        assertEquals("glibc.malloc.hugetlb=0", RunnerLauncher.tunables("glibc.malloc.hugetlb=0"), "the caller's own value stays");
        assertEquals("a=1:glibc.malloc.hugetlb=2", RunnerLauncher.tunables("a=1:glibc.malloc.hugetlb=2"));
    }

    @Test
    @org.junit.jupiter.api.condition.EnabledOnOs(org.junit.jupiter.api.condition.OS.LINUX) // reads /proc
    void theRunnerOfAnOpenModelHasIt() throws Exception {
        try (Phi2Model m = Phi2Model.open(TestModels.tiny(), ModelOptions.defaults().withContextSize(128))) {
            List<ProcessHandle> runners = ProcessHandle.current().children()
                    .filter(h -> h.info().commandLine().orElse("").contains("RunnerMain")).toList();
            assertFalse(runners.isEmpty(), "a runner runs the model");
            for (ProcessHandle h : runners) {
                String env = new String(Files.readAllBytes(Path.of("/proc", Long.toString(h.pid()), "environ")), StandardCharsets.UTF_8);
                assertTrue(List.of(env.split("\0")).contains("GLIBC_TUNABLES=glibc.malloc.hugetlb=1"), "runner " + h.pid());
            }
        }
    }
}
