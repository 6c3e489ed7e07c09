package phi2j.springai.autoconfigure;

import org.springframework.boot.diagnostics.AbstractFailureAnalyzer;
import org.springframework.boot.diagnostics.FailureAnalysis;
import phi2j.InvalidOptionException;

/**
 * Turns a refused {@code spring.ai.phi2.*} property (a missing or unreadable model file, a value out of range) into
 * Spring Boot's "APPLICATION FAILED TO START" report, naming the property, instead of a chain of bean creation errors.
 */
public class Phi2FailureAnalyzer extends AbstractFailureAnalyzer<InvalidOptionException> {
    @Override
    protected FailureAnalysis analyze(Throwable root, InvalidOptionException cause) {
        if (!cause.option().startsWith(Phi2Properties.PREFIX)) {
            return null;
        }
        return new FailureAnalysis(cause.getMessage(), "Set " + cause.option()
                + " in application.properties (or the environment): the model is a GGUF file, which ./phi2 pull or phi2 convert makes.", cause);
    }
}
