package phi2j.springai.autoconfigure;

import org.springframework.ai.model.SpringAIModelProperties;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import phi2j.InvalidOptionException;
import phi2j.runtime.Phi2Model;
import phi2j.springai.Phi2ChatModel;
import phi2j.springai.Phi2EmbeddingModel;

/**
 * phi2j's Spring AI beans, as Spring AI's own providers are configured: the chat model when {@code spring.ai.model.chat}
 * is {@code phi2} or unset, the embedding model when {@code spring.ai.model.embedding} is {@code phi2} or unset (and
 * {@code spring.ai.phi2.embedding.enabled} is true), each {@code @ConditionalOnMissingBean}, both over one model opened
 * from {@code spring.ai.phi2.model} when the first of them is made and closed with the context.
 */
@AutoConfiguration
@ConditionalOnClass({Phi2Model.class, Phi2ChatModel.class})
@EnableConfigurationProperties(Phi2Properties.class)
public class Phi2AutoConfiguration {
    /** The value of spring.ai.model.chat / spring.ai.model.embedding that selects phi2j. */
    public static final String PHI2 = "phi2";

    @Bean
    @ConditionalOnMissingBean
    public Phi2ModelProvider phi2ModelProvider(Phi2Properties properties) {
        return new Phi2ModelProvider(properties);
    }

    @Configuration(proxyBeanMethods = false)
    @ConditionalOnProperty(name = SpringAIModelProperties.CHAT_MODEL, havingValue = PHI2, matchIfMissing = true)
    static class Chat {
        @Bean
        @ConditionalOnMissingBean
        public Phi2ChatModel phi2ChatModel(Phi2ModelProvider provider, Phi2Properties properties) {
            Phi2ChatModel chat;
            try {
                chat = new Phi2ChatModel(provider, properties.getChat().getOptions(), properties.getChat().isCachePrompt());
            } catch (InvalidOptionException e) { // named as the property that set it
                throw new InvalidOptionException(Phi2Properties.PREFIX + ".chat.options." + kebab(e.option()), e.problem());
            }
            chat.model(); // opened now: a bad file fails the start, not the first request
            return chat;
        }
    }

    /** maxTokens -> max-tokens, as Spring Boot writes property names. */
    static String kebab(String camel) {
        return camel.replaceAll("([a-z0-9])([A-Z])", "$1-$2").toLowerCase(java.util.Locale.ROOT);
    }

    @Configuration(proxyBeanMethods = false)
    @ConditionalOnProperty(name = SpringAIModelProperties.EMBEDDING_MODEL, havingValue = PHI2, matchIfMissing = true)
    @ConditionalOnProperty(prefix = Phi2Properties.PREFIX + ".embedding", name = "enabled", havingValue = "true", matchIfMissing = true)
    static class Embedding {
        @Bean
        @ConditionalOnMissingBean
        public Phi2EmbeddingModel phi2EmbeddingModel(Phi2ModelProvider provider) {
            Phi2EmbeddingModel embedding = new Phi2EmbeddingModel(provider);
            provider.get();
            return embedding;
        }
    }
}
