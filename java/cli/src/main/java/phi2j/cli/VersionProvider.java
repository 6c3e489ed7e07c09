package phi2j.cli;

import picocli.CommandLine;

final class VersionProvider implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
        String v = Phi2Command.class.getPackage().getImplementationVersion();
        return new String[] {"phi2 " + (v == null ? "development build" : v) + " (de.kherud:llama 4.2.0, llama.cpp b4916)"};
    }
}
