package demo;

import org.springframework.ai.chat.client.AdvisorParams;
import org.springframework.ai.chat.client.ChatClient;
import org.springframework.ai.chat.model.ChatModel;
import org.springframework.boot.CommandLineRunner;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.context.annotation.Bean;

import java.time.Duration;
import java.util.List;

/**
 * A Spring Boot application with only phi2-spring-ai-starter, phi2-native and spring.ai.phi2.model in its
 * application.properties: its ChatClient answers a call, streams, and returns a record through the JSON schema
 * (the entity route, Spring AI's native structured output). Prints one "consumer:" line; a failed check exits 1.
 */
@SpringBootApplication
public class SpringAiApp {
    enum Mood { HAPPY, SAD, NEUTRAL }

    record Review(Mood mood, boolean recommends, long stars) {
    }

    public static void main(String[] args) {
        SpringApplication.run(SpringAiApp.class, args).close();
    }

    @Bean
    CommandLineRunner run(ChatClient.Builder builder, ChatModel model) {
        return args -> {
            ChatClient client = builder.build();
            String answer = client.prompt().user("What is a GPU?").call().content();
            List<String> pieces = client.prompt().user("What is a GPU?").stream().content().collectList().block(Duration.ofSeconds(60));
            check(answer.equals(String.join("", pieces)), "the stream's pieces make the call's answer (greedy)");
            int records = 0;
            for (long seed = 1; seed <= 3; seed++) {
                Review r = client.prompt().options(phi2j.springai.Phi2ChatOptions.builder().seed(seed).temperature(1.0).maxTokens(200).build())
                        .advisors(AdvisorParams.ENABLE_NATIVE_STRUCTURED_OUTPUT).user("Great soup, I will come back.").call().entity(Review.class);
                check(r != null, "a record for seed " + seed);
                records++;
            }
            System.out.println("consumer: model=" + model.getClass().getSimpleName() + " call=" + answer.length() + "-chars stream="
                    + pieces.size() + "-pieces records=" + records);
        };
    }

    private static void check(boolean ok, String what) {
        if (!ok) {
            throw new IllegalStateException("consumer check failed: " + what);
        }
    }
}
