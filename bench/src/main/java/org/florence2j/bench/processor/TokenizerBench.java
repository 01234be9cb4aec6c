package org.florence2j.bench.processor;

import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.florence2j.tokenizer.BartTokenizer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * {@link BartTokenizer} speed after warm-up (the BPE word cache filled). Baseline: issue 4 asks for a 1,000-word
 * paragraph to encode "well under a millisecond"; a Florence-2 prompt is ~10 words and a generated answer ~30-1,000
 * tokens, so these bound the tokenizer's share of a request.
 *
 * <p>Run from the repository root (the default {@code modelDir} is the tiny golden model, whose tokenizer files are
 * Florence-2's own): {@code java -jar bench/target/benchmarks.jar TokenizerBench}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgs = {"--enable-native-access=ALL-UNNAMED", "--add-modules=jdk.incubator.vector"})
public class TokenizerBench {
    private static final String[] WORDS = ("the a of and to in is was it for on with as by at from that this his "
            + "her they we you I not but or an be are were been has had have will would can could should may "
            + "image picture photo car person people dog cat tree building street sky cloud window door table "
            + "chair red green blue yellow black white large small old new left right front back top bottom "
            + "standing sitting walking parked holding wearing looking shows describes contains located near "
            + "beside behind under above between around several two three many some each every other "
            + "don't it's we're I'm they've you'll").split(" ");

    @Param("core/src/test/resources/golden/tiny/model")
    public String modelDir;

    private BartTokenizer tokenizer;
    private String paragraph;
    private int[] paragraphIds;
    private final String prompt = "Locate the phrases in the caption: a red car parked beside a tall building";

    @Setup
    public void setUp() {
        tokenizer = BartTokenizer.load(Path.of(modelDir));
        paragraph = paragraph(1000, new Random(42));
        paragraphIds = tokenizer.encode(paragraph);
    }

    /** A 1,000-word English-like paragraph: sentences of 6-20 words, capitalised, with commas and full stops. */
    static String paragraph(int words, Random random) {
        StringBuilder text = new StringBuilder();
        int sentenceLeft = 0;
        for (int i = 0; i < words; i++) {
            String word = WORDS[random.nextInt(WORDS.length)];
            if (sentenceLeft == 0) {
                sentenceLeft = 6 + random.nextInt(15);
                word = Character.toUpperCase(word.charAt(0)) + word.substring(1);
            }
            if (!text.isEmpty()) {
                text.append(' ');
            }
            text.append(word);
            sentenceLeft--;
            if (sentenceLeft == 0 || i == words - 1) {
                text.append('.');
            } else if (random.nextInt(10) == 0) {
                text.append(',');
            }
        }
        return text.toString();
    }

    @Benchmark
    public int[] encodeParagraph1000Words() {
        return tokenizer.encode(paragraph);
    }

    @Benchmark
    public int[] encodePrompt() {
        return tokenizer.encode(prompt);
    }

    @Benchmark
    public String decodeParagraph1000Words() {
        return tokenizer.decode(paragraphIds, true);
    }
}
