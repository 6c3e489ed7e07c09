package phi2j;

/** An option or argument value that is out of range or inconsistent with the model or with another option. */
public class InvalidOptionException extends Phi2Exception {
    private final String option;
    private final String problem;

    public InvalidOptionException(String option, String problem) {
        super(option + ": " + problem);
        this.option = option;
        this.problem = problem;
    }

    /** What is wrong with the value, without the option's name. */
    public String problem() {
        return problem;
    }

    /** The option's name as the API or the CLI spells it, for example {@code maxLength}. */
    public String option() {
        return option;
    }

    @Override
    public boolean isUserError() {
        return true;
    }
}
