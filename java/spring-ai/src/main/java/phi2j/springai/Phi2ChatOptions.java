package phi2j.springai;

import org.springframework.ai.chat.prompt.ChatOptions;
import org.springframework.ai.model.tool.StructuredOutputChatOptions;
import org.springframework.ai.model.tool.ToolCallingChatOptions;
import org.springframework.ai.tool.ToolCallback;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Spring AI's {@link ChatOptions} for phi2j, bound from {@code spring.ai.phi2.chat.options.*}: the sampling fields,
 * the seed, and the output schema Spring AI's native structured output sets (then the answer follows the schema:
 * {@code ChatClient...entity(MyRecord.class)} gets a record). It carries Spring AI's tool fields only so that tools
 * reach the model and are refused by name, not dropped on the way.
 */
public class Phi2ChatOptions implements ToolCallingChatOptions, StructuredOutputChatOptions {
    private String model;
    private Double temperature;
    private Double topP;
    private Integer topK;
    private Integer maxTokens;
    private Double presencePenalty;
    private Double frequencyPenalty;
    private List<String> stopSequences;
    private Long seed;
    private String outputSchema;
    private Boolean strictJsonSchema;
    private List<ToolCallback> toolCallbacks = new ArrayList<>();
    private Set<String> toolNames = new HashSet<>();
    private Boolean internalToolExecutionEnabled;
    private Map<String, Object> toolContext = new HashMap<>();

    public static Builder builder() {
        return new Builder();
    }

    /** {@code other}'s values where set, this one's elsewhere; neither is changed. */
    public Phi2ChatOptions overriddenBy(ChatOptions other) {
        Phi2ChatOptions o = copy();
        if (other == null) {
            return o;
        }
        o.model = pick(other.getModel(), model);
        o.temperature = pick(other.getTemperature(), temperature);
        o.topP = pick(other.getTopP(), topP);
        o.topK = pick(other.getTopK(), topK);
        o.maxTokens = pick(other.getMaxTokens(), maxTokens);
        o.presencePenalty = pick(other.getPresencePenalty(), presencePenalty);
        o.frequencyPenalty = pick(other.getFrequencyPenalty(), frequencyPenalty);
        o.stopSequences = pick(other.getStopSequences(), stopSequences);
        if (other instanceof Phi2ChatOptions p) {
            o.seed = pick(p.seed, seed);
            o.strictJsonSchema = pick(p.strictJsonSchema, strictJsonSchema);
        }
        if (other instanceof StructuredOutputChatOptions s) {
            o.outputSchema = pick(s.getOutputSchema(), outputSchema);
        }
        if (other instanceof ToolCallingChatOptions t) {
            o.toolCallbacks = ToolCallingChatOptions.mergeToolCallbacks(t.getToolCallbacks(), toolCallbacks);
            o.toolNames = ToolCallingChatOptions.mergeToolNames(t.getToolNames(), toolNames);
        }
        return o;
    }

    private static <T> T pick(T mine, T fallback) {
        return mine != null ? mine : fallback;
    }

    @Override
    public String getModel() {
        return model;
    }

    public void setModel(String model) {
        this.model = model;
    }

    @Override
    public Double getTemperature() {
        return temperature;
    }

    public void setTemperature(Double temperature) {
        this.temperature = temperature;
    }

    @Override
    public Double getTopP() {
        return topP;
    }

    public void setTopP(Double topP) {
        this.topP = topP;
    }

    @Override
    public Integer getTopK() {
        return topK;
    }

    public void setTopK(Integer topK) {
        this.topK = topK;
    }

    @Override
    public Integer getMaxTokens() {
        return maxTokens;
    }

    public void setMaxTokens(Integer maxTokens) {
        this.maxTokens = maxTokens;
    }

    @Override
    public Double getPresencePenalty() {
        return presencePenalty;
    }

    public void setPresencePenalty(Double presencePenalty) {
        this.presencePenalty = presencePenalty;
    }

    /** Refused when set (phi2j has no frequency penalty): here so that a value is not silently dropped. */
    @Override
    public Double getFrequencyPenalty() {
        return frequencyPenalty;
    }

    public void setFrequencyPenalty(Double frequencyPenalty) {
        this.frequencyPenalty = frequencyPenalty;
    }

    @Override
    public List<String> getStopSequences() {
        return stopSequences;
    }

    public void setStopSequences(List<String> stopSequences) {
        this.stopSequences = stopSequences;
    }

    /** The sampling seed: the same seed, options and prompt give the same text. */
    public Long getSeed() {
        return seed;
    }

    public void setSeed(Long seed) {
        this.seed = seed;
    }

    /** Whether every property of an output schema is required (as OpenAI's strict mode); true when unset. */
    public Boolean getStrictJsonSchema() {
        return strictJsonSchema;
    }

    public void setStrictJsonSchema(Boolean strictJsonSchema) {
        this.strictJsonSchema = strictJsonSchema;
    }

    @Override
    public String getOutputSchema() {
        return outputSchema;
    }

    @Override
    public void setOutputSchema(String outputSchema) {
        this.outputSchema = outputSchema;
    }

    @Override
    public List<ToolCallback> getToolCallbacks() {
        return toolCallbacks;
    }

    @Override
    public void setToolCallbacks(List<ToolCallback> toolCallbacks) {
        this.toolCallbacks = toolCallbacks == null ? new ArrayList<>() : new ArrayList<>(toolCallbacks);
    }

    @Override
    public Set<String> getToolNames() {
        return toolNames;
    }

    @Override
    public void setToolNames(Set<String> toolNames) {
        this.toolNames = toolNames == null ? new HashSet<>() : new HashSet<>(toolNames);
    }

    @Override
    public Boolean getInternalToolExecutionEnabled() {
        return internalToolExecutionEnabled;
    }

    @Override
    public void setInternalToolExecutionEnabled(Boolean enabled) {
        this.internalToolExecutionEnabled = enabled;
    }

    @Override
    public Map<String, Object> getToolContext() {
        return toolContext;
    }

    @Override
    public void setToolContext(Map<String, Object> toolContext) {
        this.toolContext = toolContext == null ? new HashMap<>() : new HashMap<>(toolContext);
    }

    @Override
    @SuppressWarnings("unchecked")
    public Phi2ChatOptions copy() {
        Phi2ChatOptions o = new Phi2ChatOptions();
        o.model = model;
        o.temperature = temperature;
        o.topP = topP;
        o.topK = topK;
        o.maxTokens = maxTokens;
        o.presencePenalty = presencePenalty;
        o.frequencyPenalty = frequencyPenalty;
        o.stopSequences = stopSequences == null ? null : new ArrayList<>(stopSequences);
        o.seed = seed;
        o.outputSchema = outputSchema;
        o.strictJsonSchema = strictJsonSchema;
        o.setToolCallbacks(toolCallbacks);
        o.setToolNames(toolNames);
        o.internalToolExecutionEnabled = internalToolExecutionEnabled;
        o.setToolContext(toolContext);
        return o;
    }

    @Override
    public boolean equals(Object x) {
        return x instanceof Phi2ChatOptions o && Objects.equals(model, o.model) && Objects.equals(temperature, o.temperature)
                && Objects.equals(topP, o.topP) && Objects.equals(topK, o.topK) && Objects.equals(maxTokens, o.maxTokens)
                && Objects.equals(presencePenalty, o.presencePenalty) && Objects.equals(frequencyPenalty, o.frequencyPenalty)
                && Objects.equals(stopSequences, o.stopSequences) && Objects.equals(seed, o.seed)
                && Objects.equals(outputSchema, o.outputSchema) && Objects.equals(strictJsonSchema, o.strictJsonSchema)
                && Objects.equals(toolCallbacks, o.toolCallbacks) && Objects.equals(toolNames, o.toolNames);
    }

    @Override
    public int hashCode() {
        return Objects.hash(model, temperature, topP, topK, maxTokens, presencePenalty, frequencyPenalty, stopSequences, seed, outputSchema);
    }

    @Override
    public String toString() {
        return "Phi2ChatOptions{model=" + model + ", temperature=" + temperature + ", topP=" + topP + ", topK=" + topK
                + ", maxTokens=" + maxTokens + ", presencePenalty=" + presencePenalty + ", frequencyPenalty=" + frequencyPenalty
                + ", stopSequences=" + stopSequences + ", seed=" + seed + ", outputSchema=" + (outputSchema != null) + "}";
    }

    public static final class Builder {
        private final Phi2ChatOptions o = new Phi2ChatOptions();

        public Builder model(String v) {
            o.model = v;
            return this;
        }

        public Builder temperature(Double v) {
            o.temperature = v;
            return this;
        }

        public Builder topP(Double v) {
            o.topP = v;
            return this;
        }

        public Builder topK(Integer v) {
            o.topK = v;
            return this;
        }

        public Builder maxTokens(Integer v) {
            o.maxTokens = v;
            return this;
        }

        public Builder presencePenalty(Double v) {
            o.presencePenalty = v;
            return this;
        }

        public Builder frequencyPenalty(Double v) {
            o.frequencyPenalty = v;
            return this;
        }

        public Builder stopSequences(List<String> v) {
            o.stopSequences = v;
            return this;
        }

        public Builder seed(Long v) {
            o.seed = v;
            return this;
        }

        public Builder outputSchema(String v) {
            o.outputSchema = v;
            return this;
        }

        public Builder strictJsonSchema(Boolean v) {
            o.strictJsonSchema = v;
            return this;
        }

        public Phi2ChatOptions build() {
            return o.copy();
        }
    }
}
