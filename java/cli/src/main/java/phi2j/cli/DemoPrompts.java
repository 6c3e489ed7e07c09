package phi2j.cli;

import phi2j.runtime.Prompts;

import java.util.List;

/**
 * The walkthrough's six tasks, written in Phi-2's documented prompt formats, with the seconds each took
 * there (PyTorch, fp16, max_length 500, AMD Instinct MI210).
 */
final class DemoPrompts {
    record Task(String title, String prompt, double walkthroughSeconds) {
    }

    static final List<Task> TASKS = List.of(
            new Task("3Sum (code)", Prompts.code("three_sum(nums: list[int]) -> list[list[int]]",
                    "Given an integer array nums, return all the triplets [nums[i], nums[j], nums[k]] such that\n"
                            + "i != j, i != k, j != k and nums[i] + nums[j] + nums[k] == 0.\n"
                            + "The solution set must not contain duplicate triplets."), 16.42),
            new Task("Summarize \"Attention Is All You Need\"",
                    Prompts.qa("Summarize the paper \"Attention Is All You Need\" in a few sentences."), 19.46),
            new Task("Explain the Beethoven joke",
                    Prompts.qa("Explain this joke: Why did Beethoven get rid of all of his chickens? "
                            + "All they ever said was \"Bach, Bach, Bach!\""), 17.74),
            new Task("Shakespearean dialog between physicists",
                    Prompts.qa("Write a short dialog in the style of Shakespeare between two physicists "
                            + "arguing whether light is a wave or a particle."), 18.94),
            new Task("Square root with advancedmath (code)", "import advancedmath\n\n"
                    + Prompts.code("square_root(x: float) -> float",
                    "Return the square root of x, computed with the advancedmath package."), 18.45),
            new Task("Summarize the LoRA paper",
                    Prompts.qa("Summarize the paper \"LoRA: Low-Rank Adaptation of Large Language Models\"."), 18.52));

    private DemoPrompts() {
    }
}
